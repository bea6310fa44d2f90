// Package headlines is the headlines fragment service: a feed of the day's
// stories, rendered as a lead story with four more (view=hero, the default),
// as a compact list (view=list), as one line for the top bar (view=ticker)
// or as one story in full for the story page (view=article&story=SLUG).
//
// The feed ships with the package (data/headlines.json), and so do the
// stories that moved (data/moved.json: old slug to slug now). The article
// view answers as the story page's primary fragment:
//
//   - a story of the feed: 200, with the page's head set from the story
//     (fragment.SetHead: its title, its standfirst as the description,
//     ArticleBase+slug as the canonical path);
//   - an old slug of a story that moved: 301 to ArticleBase+new slug, so
//     /news/lisbon-madrid-sleeper-train redirects to
//     /news/night-train-lisbon-madrid-returns;
//   - any other slug: 404 with the "Story not found" markup.
//
// Every answer links the fragment's stylesheet (headlines.css, served at
// /assets/headlines.<8 hex>.css). The service needs no credentials from
// its callers.
package headlines
