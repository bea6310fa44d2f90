// Package protocol is what the composer and fragment services agree on:
// the header names, bearer and HMAC request signing and checking, the one
// grammar for fragment and input names, and the slot-marker format and its
// parser. It is a leaf: the composer, the fragment helper package, the
// scaffolder and the CLI all use it, and it imports none of them.
package protocol
