package shows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/fragments/fragment"
)

// Limits on an added show.
const (
	MaxBodyBytes   = 8 << 10
	MaxTitleLen    = 80
	MaxGenreLen    = 32
	MaxSynopsisLen = 500
	MinYear        = 1900
	MaxEpisodes    = 999
	maxYearsAhead  = 2
)

// NewShow is the body of POST /shows.
type NewShow struct {
	Title    string `json:"title"`
	Genre    string `json:"genre"`
	Year     int    `json:"year"`
	Episodes int    `json:"episodes"`
	Synopsis string `json:"synopsis"`
}

func (h *handler) add(ctx *fasthttp.RequestCtx) error {
	if ct := string(ctx.Request.Header.ContentType()); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fragment.Errorf(fasthttp.StatusUnsupportedMediaType, "content type must be application/json")
		}
	}
	body := ctx.PostBody()
	if len(body) > MaxBodyBytes {
		return fragment.Errorf(fasthttp.StatusRequestEntityTooLarge, "body is larger than %d bytes", MaxBodyBytes)
	}
	now := h.cfg.Now().UTC()
	in, err := decodeNewShow(body, now.Year())
	if err != nil {
		return err
	}
	if err := in.validate(now.Year()); err != nil {
		return err
	}
	show, err := h.cat.add(Show{
		Title:    in.Title,
		Genre:    in.Genre,
		Year:     in.Year,
		Episodes: in.Episodes,
		Synopsis: in.Synopsis,
		Added:    now.Truncate(1e9),
	}, h.cfg.MaxAdded, h.store.append)
	switch {
	case errors.Is(err, errDuplicate):
		return fragment.Errorf(fasthttp.StatusConflict, "%s", err.Error())
	case errors.Is(err, errFull):
		return fragment.Errorf(fasthttp.StatusInsufficientStorage, "%s", err.Error())
	case err != nil:
		return err
	}
	h.log.Info("show added", slog.String("slug", show.Slug), slog.String("request_id", string(ctx.Request.Header.Peek("X-Request-Id"))))
	if h.cfg.OnChange != nil {
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.OnChangeTimeout)
		h.cfg.OnChange(octx)
		cancel()
	}
	return fragment.WriteJSON(ctx, fasthttp.StatusCreated, show)
}

// expected says what a field of NewShow holds, for the error that names a
// value of the wrong type.
func expected(field string, thisYear int) string {
	switch field {
	case "year":
		return fmt.Sprintf("a whole number between %d and %d", MinYear, thisYear+maxYearsAhead)
	case "episodes":
		return fmt.Sprintf("a whole number between 1 and %d", MaxEpisodes)
	case "title":
		return fmt.Sprintf("text of at most %d characters", MaxTitleLen)
	case "genre":
		return fmt.Sprintf("text of at most %d characters", MaxGenreLen)
	case "synopsis":
		return fmt.Sprintf("text of at most %d characters", MaxSynopsisLen)
	}
	return "another type"
}

func decodeNewShow(body []byte, thisYear int) (NewShow, error) {
	var in NewShow
	if len(bytes.TrimSpace(body)) == 0 {
		return in, fragment.Errorf(fasthttp.StatusBadRequest, "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return in, fragment.Errorf(fasthttp.StatusBadRequest, "%s: must be %s", te.Field, expected(te.Field, thisYear))
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return in, fragment.Errorf(fasthttp.StatusBadRequest, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return in, fragment.Errorf(fasthttp.StatusBadRequest, "body must be a JSON object")
	}
	if dec.More() {
		return in, fragment.Errorf(fasthttp.StatusBadRequest, "body must hold a single JSON object")
	}
	return in, nil
}

// validate normalises the text fields (trimmed, inner runs of space
// collapsed) and checks every field, reporting all problems at once.
func (in *NewShow) validate(thisYear int) error {
	in.Title = collapse(in.Title)
	in.Genre = collapse(in.Genre)
	in.Synopsis = collapse(in.Synopsis)

	var problems []string
	text := func(name, v string, limit int, required bool) {
		switch n := utf8.RuneCountInString(v); {
		case !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl):
			problems = append(problems, name+" contains invalid characters")
		case n == 0 && required:
			problems = append(problems, name+" is required")
		case n > limit:
			problems = append(problems, fmt.Sprintf("%s must be at most %d characters", name, limit))
		}
	}
	text("title", in.Title, MaxTitleLen, true)
	text("genre", in.Genre, MaxGenreLen, true)
	text("synopsis", in.Synopsis, MaxSynopsisLen, false)
	if maxYear := thisYear + maxYearsAhead; in.Year == 0 {
		problems = append(problems, "year is required")
	} else if in.Year < MinYear || in.Year > maxYear {
		problems = append(problems, fmt.Sprintf("year must be between %d and %d", MinYear, maxYear))
	}
	if in.Episodes == 0 {
		problems = append(problems, "episodes is required")
	} else if in.Episodes < 1 || in.Episodes > MaxEpisodes {
		problems = append(problems, fmt.Sprintf("episodes must be between 1 and %d", MaxEpisodes))
	}
	if len(problems) > 0 {
		return fragment.Errorf(fasthttp.StatusBadRequest, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// collapse trims s and replaces each run of white space with one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
