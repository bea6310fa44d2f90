package templates

import (
	"strings"

	"github.com/a-h/templ"
)

// siteName is appended to every page title and names the site in the chrome.
const siteName = "Tessera+"

// LayoutData is what a layout needs to render a page's chrome.
type LayoutData struct {
	// Title is the page's own title; the document title is "Title · Tessera+",
	// or just "Tessera+" when Title is empty.
	Title string
	// Path is the page's route, e.g. "/shows"; it marks the active navigation
	// link with aria-current="page".
	Path string
}

// Layouts returns the built-in layouts by name: "home", "shows",
// "weather" and "article". Each call returns a new map, so callers may modify it.
func Layouts() map[string]func(LayoutData) templ.Component {
	return map[string]func(LayoutData) templ.Component{
		"home":    homeLayout,
		"shows":   showsLayout,
		"weather": weatherLayout,
		"article": articleLayout,
	}
}

type navLink struct {
	Href  templ.SafeURL
	Label string
}

var navLinks = []navLink{
	{Href: "/", Label: "Home"},
	{Href: "/shows", Label: "Shows"},
	{Href: "/weather", Label: "Weather"},
}

// navActive reports whether the navigation link href is the current section
// for path: "/" only matches itself, other links also match their subpaths.
func navActive(path string, href templ.SafeURL) bool {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	h := string(href)
	if h == "/" {
		return path == "/"
	}
	return path == h || strings.HasPrefix(path, h+"/")
}

func documentTitle(title string) string {
	title = strings.TrimSpace(title)
	if title == "" {
		return siteName
	}
	return title + " · " + siteName
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
