package control

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns ctx carrying log. Operations done with ctx log with
// it instead of the Control's own logger: the REST API passes each
// request's logger, which names the request, so that every line written
// about a request carries its id.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger returns the logger ctx carries (see WithLogger), or def.
func Logger(ctx context.Context, def *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return def
}

// logger is the logger of an operation done with ctx.
func (c *Control) logger(ctx context.Context) *slog.Logger { return Logger(ctx, c.log) }
