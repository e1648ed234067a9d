package control

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/expression"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// SignatureHeader is the header that carries a delivery's signature, in
// GitHub's format: "sha256=" and the lowercase hex HMAC-SHA256 of the raw
// body, keyed with the webhook's secret.
const SignatureHeader = "X-Hub-Signature-256"

// Delivery is one POST to a webhook's path.
type Delivery struct {
	// Pipeline and Name come from the path: /hooks/<pipeline>[/<name>].
	Pipeline string
	Name     string
	// Body is the raw request body, as signed.
	Body []byte
	// Signature is the SignatureHeader value.
	Signature string
	// Key is the delivery's dedup key from its headers (Idempotency-Key,
	// else X-GitHub-Delivery); empty when it has none.
	Key string
	// Headers are the request's headers, names in lowercase, one value
	// each, for the webhook's expressions.
	Headers map[string]string
}

// Deliver starts the run a webhook delivery asks for, exactly once per
// dedup key: a delivery whose key was seen before returns the run of the
// first, with created == false. The signature is checked before anything
// else is told: an unsigned delivery learns only that it is refused.
func (c *Control) Deliver(ctx context.Context, d *Delivery) (run *store.Run, created bool, err error) {
	notFound := sluice.Errorf(sluice.ENOTFOUND, "no webhook at %s", HookPath(d.Pipeline, d.Name))
	sp, p, err := c.Pipeline(ctx, d.Pipeline)
	switch {
	case sluice.ErrorCode(err) == sluice.ENOTFOUND:
		return nil, false, notFound
	case err != nil:
		return nil, false, err
	case p == nil:
		return nil, false, notFound
	}
	w := p.Webhook(d.Name)
	if w == nil {
		return nil, false, notFound
	}
	if err := c.verify(ctx, w, d); err != nil {
		return nil, false, err
	}
	if sp.Paused {
		return nil, false, sluice.Errorf(sluice.ECONFLICT, "pipeline %q is paused: its webhook starts no runs until it is unpaused", d.Pipeline)
	}
	headers := d.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	body, err := deliveryBody(d.Body, headers["content-type"])
	if err != nil {
		return nil, false, err
	}
	env := map[string]any{"body": body, "headers": headers}
	key := d.Key
	if w.Key != "" {
		if key, err = expression.Render(w.Key, env); err != nil {
			return nil, false, sluice.Errorf(sluice.EINVALID, "webhook key: %v", err)
		}
		if key == "" {
			return nil, false, sluice.Errorf(sluice.EINVALID, "webhook key %s is empty for this delivery", w.Key)
		}
	}
	if len(key) > store.MaxEventKeyLen {
		return nil, false, sluice.Errorf(sluice.EINVALID, "the delivery's key is %d bytes long; at most %d are allowed", len(key), store.MaxEventKeyLen)
	}
	if key == "" {
		// Nothing tells a retry from a new delivery: each is its own event.
		key = "unkeyed__" + randomSuffix() + randomSuffix()
	}
	given, err := hookParams(w, env)
	if err != nil {
		return nil, false, err
	}
	bound, err := p.BindParams(given)
	if err != nil {
		return nil, false, err
	}
	raw, err := json.Marshal(bound)
	if err != nil {
		return nil, false, err
	}
	now := c.clock.Now().UTC()
	run, created, err = c.st.RunCreate(ctx, &store.RunCreateParams{
		PipelineID: d.Pipeline, VersionID: sp.VersionID, Kind: store.RunWebhook, LogicalDate: now, Params: raw,
		Key:   "webhook__" + now.Format("2006-01-02T15:04:05.000000Z") + "__" + randomSuffix(),
		Event: &store.TriggerEvent{Source: w.Source(), Key: key},
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		c.logger(ctx).Info("run triggered", "pipeline", d.Pipeline, "run", run.ID, "by", "webhook "+w.Source(), "key", key)
	} else {
		c.logger(ctx).Info("webhook delivery repeated", "pipeline", d.Pipeline, "run", run.ID, "webhook", w.Source(), "key", key)
	}
	return run, created, nil
}

// verify checks the delivery's signature with the webhook's secret.
func (c *Control) verify(ctx context.Context, w *pipeline.Webhook, d *Delivery) error {
	sig, ok := strings.CutPrefix(strings.TrimSpace(d.Signature), "sha256=")
	if d.Signature == "" || !ok {
		return sluice.Errorf(sluice.EUNAUTH, "sign the body: send %s: sha256=<hex of HMAC-SHA256 of the body, keyed with the webhook's secret>", SignatureHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return sluice.Errorf(sluice.EUNAUTH, "%s must be sha256= and 64 hex digits", SignatureHeader)
	}
	if c.box == nil {
		c.logger(ctx).Error("webhook refused: this process has no secret key", "pipeline", d.Pipeline, "webhook", w.Source())
		return sluice.Errorf(sluice.EUNAVAIL, "this server cannot open secrets: start it with $SLUICE_SECRET_KEY")
	}
	sealed, err := c.st.SecretGet(ctx, []string{w.Secret})
	if err != nil {
		return err
	}
	s, ok := sealed[w.Secret]
	if !ok {
		c.logger(ctx).Error("webhook refused: its secret is not set", "pipeline", d.Pipeline, "webhook", w.Source(), "secret", w.Secret)
		// The caller is not known yet (the signature is what would tell),
		// so the answer does not name the secret; the log does.
		return sluice.Errorf(sluice.ECONFLICT, "this webhook's secret is not set: the server's log names it; set it with `sluice secrets set NAME`")
	}
	key, err := c.box.Open(w.Secret, s)
	if err != nil {
		return fmt.Errorf("open secret %s: %w", w.Secret, err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(d.Body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return sluice.Errorf(sluice.EUNAUTH, "the signature does not match the body: sign the raw body with the webhook's secret")
	}
	return nil
}

// FormContentType is the content type of a delivery whose JSON is the
// payload field of a form: GitHub's default for a new webhook, beside
// application/json.
const FormContentType = "application/x-www-form-urlencoded"

// deliveryBody decodes a delivery's body for its webhook's expressions:
// JSON (null when empty), or, when contentType is FormContentType, the
// JSON in the form's payload field, as GitHub sends it. The signature is
// checked before, on the raw body either way.
func deliveryBody(raw []byte, contentType string) (any, error) {
	what := "the body"
	if mt, _, _ := mime.ParseMediaType(contentType); mt == FormContentType {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "the body is not a form, as its Content-Type %s says: %v", FormContentType, err)
		}
		if !form.Has("payload") {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "a form delivery (Content-Type %s) carries its JSON in a payload field, as GitHub sends it; this one has none", FormContentType)
		}
		raw, what = []byte(form.Get("payload")), "the form's payload field"
	}
	var body any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, sluice.Errorf(sluice.EBADREQUEST, "%s is not JSON: %v", what, err)
		}
	}
	return body, nil
}

// hookParams evaluates a webhook's params: in env.
func hookParams(w *pipeline.Webhook, env map[string]any) (map[string]any, error) {
	return pipeline.EvalParams(w.Params, env, "invalid params from the delivery")
}

// HookPath is the path a webhook is served at: /hooks/<pipeline> for the
// unnamed one, /hooks/<pipeline>/<name> for a named one.
func HookPath(pipelineID, name string) string {
	if name == "" {
		return "/hooks/" + pipelineID
	}
	return "/hooks/" + pipelineID + "/" + name
}
