package client

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"

	"github.com/sluice-dev/sluice/api"
)

// ListPipelines returns every pipeline, by id.
func (c *Client) ListPipelines(ctx context.Context) ([]api.Pipeline, error) {
	return list[api.Pipeline](ctx, c, "/api/v1/pipelines")
}

// GetPipeline returns a pipeline with the tasks and source of its live
// version.
func (c *Client) GetPipeline(ctx context.Context, id string) (*api.PipelineDetail, error) {
	return call[api.PipelineDetail](ctx, c, http.MethodGet, "/api/v1/pipelines/"+esc(id), nil, nil)
}

// Upload stores a pipeline file as a new version of its pipeline. name is
// the file's plain name (orders.yaml), used in error positions. A file
// with errors is refused with EINVALID and every error in the message, and
// as a list of api.FileError values (decoded as maps) in Details.
func (c *Client) Upload(ctx context.Context, name string, src []byte) (*api.UploadResult, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	// Written by hand, not with CreateFormFile, so that the name reaches
	// the server exactly as given.
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper(name)+`"`)
	h.Set("Content-Type", "application/yaml")
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(src); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req, err := c.request(ctx, http.MethodPost, "/api/v1/pipelines", nil, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.send(c.http, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out api.UploadResult
	if err := decodeBody(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func quoteEscaper(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
		case '\r', '\n':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DeletePipeline deletes a pipeline with all of its versions and runs.
func (c *Client) DeletePipeline(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/pipelines/"+esc(id), nil, nil, nil)
}

// DeletePipelineAndFile deletes a pipeline and its file in the server's
// pipelines folder.
func (c *Client) DeletePipelineAndFile(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/pipelines/"+esc(id)+"?and_file=true", nil, nil, nil)
}

// Pause pauses a pipeline's schedule.
func (c *Client) Pause(ctx context.Context, id string) (*api.Pipeline, error) {
	return call[api.Pipeline](ctx, c, http.MethodPost, "/api/v1/pipelines/"+esc(id)+"/pause", nil, nil)
}

// Unpause resumes a pipeline's schedule.
func (c *Client) Unpause(ctx context.Context, id string) (*api.Pipeline, error) {
	return call[api.Pipeline](ctx, c, http.MethodPost, "/api/v1/pipelines/"+esc(id)+"/unpause", nil, nil)
}

// Trigger starts a run of a pipeline's live version now. Param values may
// be typed or strings, which the server converts by the param's type.
func (c *Client) Trigger(ctx context.Context, id string, params map[string]any) (*api.Run, error) {
	return call[api.Run](ctx, c, http.MethodPost, "/api/v1/pipelines/"+esc(id)+"/runs", nil, api.TriggerRequest{Params: params})
}

// Versions lists a pipeline's versions, newest first.
func (c *Client) Versions(ctx context.Context, id string) ([]api.Version, error) {
	return list[api.Version](ctx, c, "/api/v1/pipelines/"+esc(id)+"/versions")
}

// Version returns one version of a pipeline by ref: a version id, "live",
// or at least 6 hex digits of its hash.
func (c *Client) Version(ctx context.Context, id, ref string) (*api.VersionDetail, error) {
	return call[api.VersionDetail](ctx, c, http.MethodGet, "/api/v1/pipelines/"+esc(id)+"/versions/"+esc(ref), nil, nil)
}

// Diff returns the diff between two versions of a pipeline; an empty from
// means the version before to, an empty to the live version.
func (c *Client) Diff(ctx context.Context, id, from, to string) (*api.Diff, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	return call[api.Diff](ctx, c, http.MethodGet, "/api/v1/pipelines/"+esc(id)+"/diff", q, nil)
}
