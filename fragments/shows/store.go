package shows

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// maxStoredLine bounds one line of the store; longer lines are skipped.
const maxStoredLine = 64 << 10

// store appends added shows to a JSON-lines file. An empty path keeps
// nothing. Callers serialise appends (the catalogue's lock does).
type store struct {
	path string
	// needNewline is set when the file does not end in a newline, as after
	// a write cut short, so that the next record starts on a line of its own.
	needNewline bool
}

// load reads the shows stored earlier. A missing file is an empty store; a
// line that cannot be read as a show is skipped with a warning.
func (st *store) load(log *slog.Logger) ([]Show, error) {
	if st.path == "" {
		return nil, nil
	}
	f, err := os.Open(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("shows: open store: %w", err)
	}
	defer f.Close()

	var shows []Show
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := readLine(r)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("shows: read store %s: %w", st.path, err)
		}
		if errors.Is(err, io.EOF) {
			st.needNewline = len(line) > 0
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			var s Show
			if jerr := json.Unmarshal(line, &s); jerr != nil {
				log.Warn("skipping unreadable line in the show store", slog.String("path", st.path), slog.Int("line", n), slog.Any("err", jerr))
			} else if cerr := s.check(); cerr != nil {
				log.Warn("skipping invalid show in the show store", slog.String("path", st.path), slog.Int("line", n), slog.Any("err", cerr))
			} else {
				shows = append(shows, s)
			}
		}
		if errors.Is(err, io.EOF) {
			return shows, nil
		}
	}
}

// readLine returns the next line without its newline. A line longer than
// maxStoredLine is returned cut short, which then fails to decode.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line) < maxStoredLine {
			line = append(line, chunk[:min(len(chunk), maxStoredLine-len(line))]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return line, err
		}
		return bytes.TrimSuffix(line, []byte("\n")), nil
	}
}

// append stores s as one line, creating the file and its directories when
// needed, and syncs it to disk.
func (st *store) append(s Show) error {
	if st.path == "" {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("shows: encode show: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(st.path), 0o755); err != nil {
		return fmt.Errorf("shows: create store directory: %w", err)
	}
	f, err := os.OpenFile(st.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("shows: open store: %w", err)
	}
	rec := make([]byte, 0, len(b)+2)
	if st.needNewline {
		rec = append(rec, '\n')
	}
	rec = append(append(rec, b...), '\n')
	_, werr := f.Write(rec)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("shows: write store: %w", werr)
	}
	st.needNewline = false
	return nil
}
