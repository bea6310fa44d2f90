package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tessera-dev/tessera/composer/config"
)

func (e *env) check(args []string) error {
	c := newCommand("check", "[FILE...]", `
Validates composer config files (default tessera.yaml) as the composer
would load them: YAML, durations, URLs, inputs, layouts and their slots, and
that every fragment's secret variable is set in this environment. Prints
every problem found, one per line with its line number, or "FILE: ok".`, 0, 1<<10)
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	if len(pos) == 0 {
		pos = []string{"tessera.yaml"}
	}
	var failed []error
	for _, file := range pos {
		if err := e.checkFile(file); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

func (e *env) checkFile(file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	cfg, err := config.Parse(file, src)
	if err == nil {
		cfg.ApplyEnv(e.getenv)
		var site *config.Site
		if site, err = cfg.Compile(file, src, filepath.Dir(file), e.getenv); err == nil {
			_, err = fmt.Fprintf(e.stdout, "%s: ok (%d fragments, %d pages)\n", file, len(site.Fragments), len(site.Pages))
			return err
		}
	}
	var problems config.Errors
	if !errors.As(err, &problems) {
		return fmt.Errorf("check %s: %w", file, err)
	}
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p.Error())
	}
	if len(problems) == 1 {
		return fmt.Errorf("%s: 1 problem", file)
	}
	return fmt.Errorf("%s: %d problems", file, len(problems))
}

func (e *env) config(args []string) error {
	c := newCommand("config", "", `
Prints the built-in site's config: the three fragments on their default
ports and three pages. Save it with "tessera config > tessera.yaml", edit,
and validate with "tessera check tessera.yaml".`, 0, 0)
	pos, err := c.parse(e, args)
	if pos == nil {
		return err
	}
	_, err = e.stdout.Write(config.Default)
	return err
}
