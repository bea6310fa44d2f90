// Package headlines is the headlines fragment service: a feed of the day's
// stories, rendered as a lead story with four more (view=hero, the default)
// or as a compact list (view=list).
//
// The feed ships with the package (data/headlines.json). The service needs
// no credentials from its callers.
package headlines
