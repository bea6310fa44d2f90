// Package weather is the weather fragment service: current conditions and a
// five-day forecast for a city, as a compact widget (view=widget, the
// default) or in full (view=full). Both carry a small form that reloads the
// page with ?city=<slug>.
//
// The city comes from the city query parameter; an unknown or missing city
// gets the default city, never an error. The observations ship with the
// package (data/cities.json). Callers authenticate with a bearer token.
package weather
