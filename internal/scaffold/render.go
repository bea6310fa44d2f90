package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"go/ast"
	"go/format"
	goparser "go/parser"
	"go/token"
	"path"
	"strconv"
	"text/template"

	"github.com/a-h/templ"
	"github.com/a-h/templ/generator"
	templparser "github.com/a-h/templ/parser/v2"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").ParseFS(templateFS, "templates/*.tmpl"))

// data is what the templates are executed with.
type data struct {
	Name  string // fragment name, e.g. "top-picks"
	Pkg   string // package identifier, e.g. "toppicks"
	Alias bool   // Pkg differs from the last element of the import path
	Title string // heading, e.g. "Top picks"
	Auth  string
	// EnvVar holds the secret; empty for auth "none".
	EnvVar   string
	AuthExpr string // the fragment.Auth the service is built with
	AuthDoc  string // a sentence on auth for the package documentation
	Import   string // the import spec of the package
	Port     int
}

func newData(opts Options) data {
	d := data{
		Name:   opts.Name,
		Pkg:    PackageName(opts.Name),
		Title:  title(opts.Name),
		Auth:   opts.Auth,
		EnvVar: EnvName(opts.Name, opts.Auth),
		Port:   opts.Port,
	}
	d.Alias = d.Pkg != d.Name
	d.Import = strconv.Quote(d.importPath())
	if d.Alias {
		d.Import = d.Pkg + " " + d.Import
	}
	switch d.Auth {
	case AuthBearer:
		d.AuthExpr = "fragment.BearerAuth(cfg.Token)"
		d.AuthDoc = "Callers must present a bearer\n// token: cmd/" + d.Name + " reads it from " + d.EnvVar + ", and the composer\n// sends it with auth: {kind: bearer, secret_env: " + d.EnvVar + "}."
	case AuthHMAC:
		d.AuthExpr = "fragment.HMACAuth(cfg.Secret)"
		d.AuthDoc = "Callers must sign each request\n// with a shared HMAC key: cmd/" + d.Name + " reads it from " + d.EnvVar + ", and\n// the composer signs with auth: {kind: hmac, secret_env: " + d.EnvVar + "}."
	default:
		d.AuthExpr = "fragment.NoAuth()"
		d.AuthDoc = "It accepts every caller: the\n// composer sends no credentials."
	}
	return d
}

func (d data) importPath() string { return ModulePath + "/fragments/" + d.Name }

// render produces every file of the service.
func render(d data) ([]File, error) {
	frag, cmd := "fragments/"+d.Name, "cmd/"+d.Name
	view, viewGo, err := renderView(d, frag+"/view.templ")
	if err != nil {
		return nil, err
	}
	files := []File{
		{Path: frag + "/doc.go"},
		{Path: frag + "/" + d.Name + ".go"},
		{Path: frag + "/" + d.Name + ".css"},
		{Path: frag + "/view.templ", Data: view},
		{Path: frag + "/view_templ.go", Data: viewGo},
		{Path: frag + "/" + d.Name + "_test.go"},
		{Path: cmd + "/main.go"},
		{Path: cmd + "/main_test.go"},
	}
	sources := map[string]string{
		frag + "/doc.go":                 "doc.go.tmpl",
		frag + "/" + d.Name + ".go":      "fragment.go.tmpl",
		frag + "/" + d.Name + ".css":     "fragment.css.tmpl",
		frag + "/" + d.Name + "_test.go": "fragment_test.go.tmpl",
		cmd + "/main.go":                 "main.go.tmpl",
		cmd + "/main_test.go":            "main_test.go.tmpl",
	}
	for i, f := range files {
		tmpl, ok := sources[f.Path]
		if !ok {
			continue
		}
		src, err := execute(tmpl, d)
		if err != nil {
			return nil, err
		}
		if path.Ext(f.Path) != ".go" {
			files[i].Data = src
			continue
		}
		if files[i].Data, err = format.Source(src); err != nil {
			return nil, fmt.Errorf("scaffold: format %s: %w", f.Path, err)
		}
	}
	// The files that import the package must not declare or import
	// anything under the package's name.
	for _, f := range files {
		if f.Path != frag+"/"+d.Name+"_test.go" && f.Path != cmd+"/main.go" {
			continue
		}
		if err := checkClash(d, f); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func execute(name string, d data) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, d); err != nil {
		return nil, fmt.Errorf("scaffold: %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// renderView returns the templ source, formatted as "templ fmt" would,
// and the Go code "go tool templ generate" makes of it when run at the
// checkout's root (fileName, relative to the root, is part of that code).
func renderView(d data, fileName string) (src, gen []byte, err error) {
	raw, err := execute("view.templ.tmpl", d)
	if err != nil {
		return nil, nil, err
	}
	tf, err := templparser.ParseString(string(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("scaffold: parse %s: %w", fileName, err)
	}
	var fb bytes.Buffer
	if err := tf.Write(&fb); err != nil {
		return nil, nil, fmt.Errorf("scaffold: format %s: %w", fileName, err)
	}
	src = fb.Bytes()
	// Generate from the formatted source, parsed afresh, exactly as the
	// templ command does from the file on disk.
	if tf, err = templparser.ParseString(string(src)); err != nil {
		return nil, nil, fmt.Errorf("scaffold: parse %s: %w", fileName, err)
	}
	var gb bytes.Buffer
	if _, err := generator.Generate(tf, &gb, generator.WithVersion(templ.Version()), generator.WithFileName(fileName)); err != nil {
		return nil, nil, fmt.Errorf("scaffold: generate %s: %w", fileName, err)
	}
	if gen, err = format.Source(gb.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("scaffold: format generated code of %s: %w", fileName, err)
	}
	return src, gen, nil
}

// checkClash reports an identifier of f that has the package's name, other
// than the package itself: such a name would not compile.
func checkClash(d data, f File) error {
	file, err := goparser.ParseFile(token.NewFileSet(), f.Path, f.Data, goparser.SkipObjectResolution)
	if err != nil {
		return fmt.Errorf("scaffold: parse %s: %w", f.Path, err)
	}
	refuse := func(what string) error {
		return fmt.Errorf("%w %q: its package name %s would clash with %s in %s; choose another name", ErrInvalidName, d.Name, d.Pkg, what, f.Path)
	}
	for _, imp := range file.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p == d.importPath() {
			continue
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name == d.Pkg {
			return refuse("the imported package " + strconv.Quote(p))
		}
	}
	skip := map[*ast.Ident]bool{file.Name: true}
	found := false
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ImportSpec:
			return false
		case *ast.SelectorExpr:
			skip[n.Sel] = true
			if id, ok := n.X.(*ast.Ident); ok && id.Name == d.Pkg {
				skip[id] = true
			}
		case *ast.StructType:
			for _, fld := range n.Fields.List {
				for _, id := range fld.Names {
					skip[id] = true
				}
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				skip[id] = true
			}
		case *ast.Ident:
			if !skip[n] && n.Name == d.Pkg {
				found = true
			}
		}
		return !found
	})
	if found {
		return refuse("an identifier of the same name")
	}
	return nil
}
