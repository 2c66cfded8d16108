// Package gateway owns the DOIP sockets: accepting connections, TLS (required, optional by
// sniffing the first byte, or off), read, idle and write deadlines, many requests per
// connection, and graceful shutdown. It is shaped like net/http's server: a [Server] with
// exported fields, [Server.Serve], [Server.Shutdown] and [Server.Close], and a one-method
// [doip.Handler] that never sees sockets or framings.
//
// The framing of a connection is a [doip.ServerCodec] made by the server's NewCodec: the binary
// envelope on port 3567, and on port 3568 the standard DOIP v2.0 text segments or the
// length-prefixed JSON segments, chosen by the first byte after any TLS handshake
// (the DOIP v2.0 standard, §11).
//
// Not handled here: what an operation does (the dispatcher's job) and the bytes of a framing
// (the codec packages' job).
package gateway
