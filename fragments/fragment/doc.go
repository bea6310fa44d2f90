// Package fragment serves one page fragment over HTTP: the building block of
// a Tessera fragment service.
//
// A fragment service renders a single HTML snippet, addressed by query
// parameters (for example ?city=london&view=widget). The composer fetches the
// snippet, caches it and stitches it into a page. This package does the parts
// every fragment service shares, so that writing one takes a few lines:
//
//   - it renders the snippet's templ component into a buffered response, so a
//     failed render still turns into a clean error status;
//   - it sets X-Fragment-Version (semver) and Cache-Control (max-age and an
//     optional stale-while-revalidate window) on every snippet;
//   - it verifies the composer's credentials: none, a bearer token, or an
//     HMAC-signed request with a replay window (see [Auth]);
//   - it serves /healthz (JSON, no credentials) and /metrics (Prometheus
//     text format, one metrics set per service);
//   - it recovers from panics, bounds request size and read/write time, logs
//     through an injected [log/slog.Logger], and shuts down gracefully when
//     the context given to [Server.ListenAndServe] or [Server.Serve] ends.
//
// A service may add its own routes with [Server.Handle] and
// [Server.HandleJSON], each with its own [Auth].
//
// # The fragment contract
//
// Besides its markup, an answer may carry what docs/fragment-contract.md
// describes, and this package writes it:
//
//   - assets: Config.Assets lists the stylesheets and scripts the snippet
//     needs, made with [CSS] and [JS] from embedded bytes. Each is served,
//     with no credentials, under a content-hashed name
//     (/assets/headlines.3f2a9c1b.css, see [Server.AssetPath]) with
//     Cache-Control: public, max-age=31536000, immutable, an ETag and
//     nosniff, and every snippet answer (404 and 410 included) declares
//     them in Link headers, one per asset, in declaration order;
//   - head: [SetHead] sets the page's title, description, canonical path
//     and robots directive, percent-encoded, cut to the contract's bounds
//     or left out when not valid;
//   - status: a SnippetFunc returns [NotFound] or [Gone] to answer 404 or
//     410 with markup, and [Redirect] for a 301, 302, 303, 307 or 308 to a
//     path on the site or an absolute http(s) URL. Both are cached by the
//     snippet's Cache-Control. A redirect the contract does not allow is
//     answered 500 and logged, as the service's bug.
//
// The composer uses the status and head of a primary fragment only.
//
// The composer side of the protocol is [SignRequest] and [SetBearer]: they
// add the credentials that [Auth.Verify] checks.
//
// # Running as a process
//
// [Command] turns a service into a program: -addr, -log-level and
// -log-format flags (and the service's own), secrets from the environment
// with [Env.Require], and a graceful stop on SIGINT or SIGTERM. A main is
// one line, command().Main(), as in cmd/headlines.
//
// # Signed requests
//
// An HMAC-signed request carries two headers:
//
//	X-Tessera-Date: <unix seconds>
//	X-Tessera-Signature: v1=<hex(hmac_sha256(secret, METHOD "\n" PATH "\n" RAWQUERY "\n" DATE))>
//
// PATH and RAWQUERY are the request target exactly as sent on the wire, split
// at the first '?'. The server accepts a date at most [DefaultReplayWindow]
// away from its own clock (configurable per [Auth]).
package fragment
