// Package zparts writes compressed pages from parts compressed ahead of
// time, so that a page is never compressed as a whole per request.
//
// A page is a sequence of parts: a layout's static parts and cached
// fragment bodies, which change rarely and are compressed once, at a high
// level, into Blocks; and small per-request pieces, which a Writer
// compresses cheaply as it goes.
//
// It works because both formats concatenate:
//
//   - A deflate stream from a fresh compressor, ended with a sync flush
//     and no final block, stands on a byte boundary and refers to nothing
//     before it, so such streams can be joined. A gzip page is a 10-byte
//     header, the parts' deflate blocks in document order, a final empty
//     block and a trailer whose CRC-32 is combined from the parts' CRCs
//     (zlib's crc32_combine) and whose ISIZE is the page length.
//   - A zstd stream is one or more frames (RFC 8878), so a zstd page is
//     the parts' frames one after another. Each frame declares a window of
//     at most 8 MB, the limit RFC 9659 sets for HTTP.
//
// Every part ends at a point where a client can decode everything so far,
// so a streamed page flushes after each slot and stays compressed.
//
// Negotiate picks the Encoding from a request's Accept-Encoding. A Block
// has a compact, versioned, checksummed wire form (Block.AppendBinary,
// DecodeBlock) for storing it next to a cache entry.
//
// Typical use, with blocks built when a config is loaded or a fragment is
// cached:
//
//	enc := zparts.Negotiate(ctx.Request.Header.Peek("Accept-Encoding"))
//	w := zparts.AcquireWriter(bw, enc)
//	defer zparts.ReleaseWriter(w)
//	_ = w.WriteBlock(layout.Head) // precompressed, copied
//	_, _ = w.WriteString(nonceScript) // compressed now
//	_ = w.WriteBlock(fragment)
//	_ = w.Flush() // the client can render this much
//	_ = w.WriteBlock(layout.Tail)
//	err := w.Close()
package zparts
