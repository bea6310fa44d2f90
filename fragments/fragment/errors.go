package fragment

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Error is an error with an HTTP status and a message that is safe to show
// to the caller. Handlers return it for the failures a caller can act on
// (bad input, conflicts); any other error becomes a 500 whose details stay
// in the log.
type Error struct {
	Status  int
	Message string
}

// Errorf returns an *Error with the given status and formatted message.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("fragment: %d %s", e.Status, e.Message)
}

// WriteJSON writes v as the JSON response body with the given status.
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fragment: encode json: %w", err)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetBody(append(b, '\n'))
	return nil
}

type errorBody struct {
	Error string `json:"error"`
}

// serveError turns err into the response. It is the one place where errors
// become statuses, and where they are logged.
func (s *Server) serveError(ctx *fasthttp.RequestCtx, err error, rt *route) {
	status, msg := fasthttp.StatusInternalServerError, "internal error"
	var fe *Error
	switch {
	case errors.As(err, &fe):
		status, msg = fe.Status, fe.Message
	case errors.Is(err, ErrUnauthorized):
		status, msg = fasthttp.StatusUnauthorized, "unauthorized"
	}
	attrs := []any{
		slog.String("method", string(ctx.Method())),
		slog.String("path", string(ctx.Path())),
		slog.Int("status", status),
		slog.String("request_id", string(ctx.Request.Header.Peek("X-Request-Id"))),
		slog.Any("err", err),
	}
	if status >= 500 {
		s.log.Error("request failed", attrs...)
	} else {
		s.log.Info("request refused", attrs...)
	}
	s.writeError(ctx, status, msg, rt)
}

// writeError replaces the response with an error status and message, as
// JSON for JSON routes and as plain text otherwise.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, status int, msg string, rt *route) {
	ctx.Response.ResetBody()
	ctx.Response.Header.Del(fasthttp.HeaderContentEncoding)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.Response.Header.Del(fasthttp.HeaderLocation)
	ctx.Response.Header.Del(protocol.HeaderLink)
	for _, h := range headHeaders {
		ctx.Response.Header.Del(h)
	}
	if status == fasthttp.StatusUnauthorized && rt != nil && rt.auth.Mode == AuthBearer {
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="tessera"`)
	}
	ctx.SetStatusCode(status)
	if rt != nil && rt.json {
		b, _ := json.Marshal(errorBody{Error: msg})
		ctx.SetContentType("application/json")
		ctx.SetBody(append(b, '\n'))
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(msg + "\n")
}
