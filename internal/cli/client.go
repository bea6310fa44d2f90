package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// APIError is an error answer from the composer's admin API.
type APIError struct {
	Status int
	Msg    string
	// Hint says what to do about it, when the command knows.
	Hint string
}

func (e *APIError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = "no explanation given"
	}
	s := fmt.Sprintf("%s (HTTP %d %s)", msg, e.Status, fasthttp.StatusMessage(e.Status))
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// client calls a composer's admin API.
type client struct {
	base    string
	token   string
	timeout time.Duration
	http    *fasthttp.Client
}

func newClient(rawURL, token string, timeout time.Duration) (*client, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &usageError{fmt.Sprintf("--url %q is not an http(s) URL", rawURL), "Set --url or $TESSERA_URL to the composer, e.g. http://127.0.0.1:8080.\n"}
	}
	return &client{
		base:    strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"),
		token:   token,
		timeout: timeout,
		http: &fasthttp.Client{
			Name:                "tessera-cli",
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			MaxResponseBodySize: 16 << 20,
		},
	}, nil
}

// close drops the client's idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// do sends a request to the API and decodes a 2xx answer into out.
func (c *client) do(method, path string, body any, out any) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if c.token != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+c.token)
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req.Header.SetContentType("application/json")
		req.SetBody(b)
	}
	if err := c.http.DoTimeout(req, resp, c.timeout); err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) {
			return fmt.Errorf("the composer at %s did not answer within %s", c.base, c.timeout)
		}
		return fmt.Errorf("cannot reach the composer at %s (set --url or TESSERA_URL): %w", c.base, err)
	}
	status := resp.StatusCode()
	if status < 200 || status > 299 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(resp.Body(), &e) != nil {
			return fmt.Errorf("%s at %s does not look like a tessera composer's admin API (HTTP %d)", path, c.base, status)
		}
		ae := &APIError{Status: status, Msg: e.Error}
		if status == fasthttp.StatusUnauthorized {
			ae.Hint = "TESSERA_ADMIN_TOKEN does not match the composer's token"
			if c.token == "" {
				ae.Hint = "TESSERA_ADMIN_TOKEN is not set"
			}
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("unexpected answer from %s%s: %w", c.base, path, err)
	}
	return nil
}
