package control

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// MaxSecret and MaxVariable bound a secret's and a variable's value: they
// travel in environment variables and expressions, not as files.
const (
	MaxSecret   = 64 << 10
	MaxVariable = 64 << 10
)

// secretName is what a secret's name looks like: it becomes an environment
// variable of the tasks that declare it.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// variableName is what a variable's name looks like: it is read as
// vars.<name> in expressions.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// WithSecrets makes c able to store secrets, sealed by box. Without it
// SecretSet is refused: the process has no key.
func (c *Control) WithSecrets(box *secret.Box) *Control {
	c.box = box
	return c
}

// CanSetSecrets tells whether this process has the key to store secrets.
func (c *Control) CanSetSecrets() bool { return c.box != nil }

// PoolSet creates or resizes a pool.
func (c *Control) PoolSet(ctx context.Context, name string, slots int, description, by string) (*store.Pool, error) {
	if slots < 0 {
		return nil, sluice.Errorf(sluice.EINVALID, "pool %q: slots must be 0 or more, not %d", name, slots)
	}
	p := &store.Pool{Name: name, Slots: slots, Description: description}
	if err := c.st.PoolSet(ctx, p); err != nil {
		return nil, err
	}
	c.logger(ctx).Info("pool set", "pool", name, "slots", slots, "by", by)
	return c.Pool(ctx, name)
}

// Pool returns one pool with its slots in use and its queue.
func (c *Control) Pool(ctx context.Context, name string) (*store.Pool, error) {
	pools, err := c.st.PoolList(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, sluice.Errorf(sluice.ENOTFOUND, "pool %q not found", name)
}

// PoolDelete deletes a pool; tasks that name it wait, blocked, until it
// exists again.
func (c *Control) PoolDelete(ctx context.Context, name, by string) error {
	if err := c.st.PoolDelete(ctx, name); err != nil {
		return err
	}
	c.logger(ctx).Info("pool deleted", "pool", name, "by", by)
	return nil
}

// SecretSet stores a secret, encrypted; the value is never returned.
func (c *Control) SecretSet(ctx context.Context, name string, value []byte, by string) error {
	if !secretName.MatchString(name) {
		return sluice.Errorf(sluice.EINVALID, "secret name %q: use letters, digits and _, not starting with a digit (it becomes an environment variable)", name)
	}
	if strings.HasPrefix(strings.ToUpper(name), "SLUICE_") {
		return sluice.Errorf(sluice.EINVALID, "secret name %q: the SLUICE_ prefix is reserved", name)
	}
	if len(value) > MaxSecret {
		return sluice.Errorf(sluice.ETOOLARGE, "secret %q: the value is %d bytes, more than the %d allowed", name, len(value), MaxSecret)
	}
	if c.box == nil {
		return sluice.Errorf(sluice.EUNAVAIL, "this process has no secret key to encrypt with: set %s (the same on every worker)", secret.EnvVar)
	}
	if err := c.st.SecretSet(ctx, name, c.box.Seal(name, value)); err != nil {
		return err
	}
	c.logger(ctx).Info("secret set", "secret", name, "by", by)
	return nil
}

// SecretDelete deletes a secret.
func (c *Control) SecretDelete(ctx context.Context, name, by string) error {
	if err := c.st.SecretDelete(ctx, name); err != nil {
		return err
	}
	c.logger(ctx).Info("secret deleted", "secret", name, "by", by)
	return nil
}

// VariableSet sets a variable.
func (c *Control) VariableSet(ctx context.Context, name, value, by string) error {
	if !variableName.MatchString(name) {
		return sluice.Errorf(sluice.EINVALID, "variable name %q: use letters, digits and _, not starting with a digit (it is read as vars.%s)", name, name)
	}
	if len(value) > MaxVariable {
		return sluice.Errorf(sluice.ETOOLARGE, "variable %q: the value is %d bytes, more than the %d allowed", name, len(value), MaxVariable)
	}
	if !utf8.ValidString(value) {
		return sluice.Errorf(sluice.EINVALID, "variable %q: the value is not UTF-8 text", name)
	}
	if err := c.st.VariableSet(ctx, name, value); err != nil {
		return err
	}
	c.logger(ctx).Info("variable set", "variable", name, "by", by)
	return nil
}

// VariableDelete deletes a variable.
func (c *Control) VariableDelete(ctx context.Context, name, by string) error {
	if err := c.st.VariableDelete(ctx, name); err != nil {
		return err
	}
	c.logger(ctx).Info("variable deleted", "variable", name, "by", by)
	return nil
}
