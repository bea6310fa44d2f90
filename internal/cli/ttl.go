package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/admin"
)

const usageTTL = `Usage: tessera ttl COMMAND [ARGS]

Show and change, at run time, how long each fragment stays cached. Changes
reach every composer sharing the Redis within a second and survive restarts.

Commands:
  list                                  every fragment's TTL, SWR, SIE, their source and counters
  set NAME DURATION [--swr D] [--sie D] set a fragment's TTL (and windows), e.g. 30s, 5m
  clear NAME                            drop the run-time values: the config applies again

Run "tessera ttl COMMAND --help" for more.
`

func (e *env) ttl(args []string) error {
	if len(args) == 0 {
		return &usageError{"ttl: want list, set or clear", usageTTL}
	}
	switch args[0] {
	case "list", "ls":
		return e.ttlList(args[1:])
	case "set":
		return e.ttlSet(args[1:])
	case "clear":
		return e.ttlClear(args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usageTTL)
		return nil
	}
	return &usageError{fmt.Sprintf("ttl: unknown command %q (want list, set or clear)", args[0]), usageTTL}
}

func (e *env) ttlList(args []string) error {
	c := newCommand("ttl list", "", `
Lists every fragment of the running composer: its TTL, stale-while-revalidate
(SWR) and stale-if-error (SIE) windows as in force now, where the TTL comes
from (SOURCE: override set at run time, config, or the fragment's own
Cache-Control, shown as "-"), and its cache counters since the composer
started.`, 0, 0)
	var r remote
	r.register(c, e)
	asJSON := c.fs.Bool("json", false, "print the API's JSON instead of a table")
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	cl, err := r.client(e)
	if err != nil {
		return err
	}
	defer cl.close()
	var rows []admin.Fragment
	if err := cl.do(fasthttp.MethodGet, admin.Prefix+"fragments", nil, &rows); err != nil {
		return fmt.Errorf("ttl list: %w", err)
	}
	if *asJSON {
		return writeJSON(e.stdout, rows)
	}
	return writeTable(e.stdout, rows)
}

func (e *env) ttlSet(args []string) error {
	c := newCommand("ttl set", "NAME DURATION", `
Sets how long the fragment NAME stays fresh in the cache (DURATION, e.g.
500ms, 30s, 5m, 1h), overriding the config on every composer until
"tessera ttl clear NAME". --swr and --sie change the
stale-while-revalidate and stale-if-error windows too; values not given keep
what was set before. Each may be at most 168h (7 days).`, 2, 2)
	var r remote
	r.register(c, e)
	swr := c.fs.String("swr", "", "stale-while-revalidate `window`: serve a stale copy this long after the TTL while refreshing")
	sie := c.fs.String("sie", "", "stale-if-error `window`: serve a stale copy this long after the TTL when the fragment fails")
	asJSON := c.fs.Bool("json", false, "print the API's JSON instead of a table")
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	req := admin.TTLRequest{TTL: &pos[1]}
	if *swr != "" {
		req.SWR = swr
	}
	if *sie != "" {
		req.SIE = sie
	}
	cl, err := r.client(e)
	if err != nil {
		return err
	}
	defer cl.close()
	var row admin.Fragment
	if err := cl.do(fasthttp.MethodPut, fragmentPath(pos[0])+"/ttl", req, &row); err != nil {
		return fmt.Errorf("ttl set %s: %w", pos[0], err)
	}
	if *asJSON {
		return writeJSON(e.stdout, row)
	}
	return writeTable(e.stdout, []admin.Fragment{row})
}

func (e *env) ttlClear(args []string) error {
	c := newCommand("ttl clear", "NAME", `
Drops the run-time TTL, SWR and SIE of the fragment NAME on every composer,
so the config (or the fragment's Cache-Control) applies again.`, 1, 1)
	var r remote
	r.register(c, e)
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	cl, err := r.client(e)
	if err != nil {
		return err
	}
	defer cl.close()
	var row admin.Fragment
	if err := cl.do(fasthttp.MethodDelete, fragmentPath(pos[0])+"/ttl", nil, &row); err != nil {
		return fmt.Errorf("ttl clear %s: %w", pos[0], err)
	}
	return writeTable(e.stdout, []admin.Fragment{row})
}

func (e *env) purge(args []string) error {
	c := newCommand("purge", "NAME", `
Drops every cached copy of the fragment NAME, on every composer: the next
page that shows it fetches it afresh.`, 1, 1)
	var r remote
	r.register(c, e)
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	cl, err := r.client(e)
	if err != nil {
		return err
	}
	defer cl.close()
	var res admin.PurgeResult
	if err := cl.do(fasthttp.MethodPost, admin.Prefix+"purge?fragment="+url.QueryEscape(pos[0]), nil, &res); err != nil {
		return fmt.Errorf("purge %s: %w", pos[0], err)
	}
	_, err = fmt.Fprintf(e.stdout, "purged %s (generation %d)\n", res.Fragment, res.Generation)
	return err
}

func fragmentPath(name string) string {
	return admin.Prefix + "fragments/" + url.PathEscape(name)
}

func writeTable(w io.Writer, rows []admin.Fragment) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTTL\tSWR\tSIE\tSOURCE\tHITS\tMISSES\tSTALE\tERRORS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n",
			r.Name, shortDuration(r.TTL), shortDuration(r.SWR), shortDuration(r.SIE), r.TTLSource,
			r.Hits, r.Misses, r.Stale, r.Errors)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// shortDuration drops the zero units Go prints ("10m0s" → "10m", "1h0m0s"
// → "1h"); an empty value (decided by the fragment) is shown as "-".
func shortDuration(s string) string {
	if s == "" {
		return "-"
	}
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
