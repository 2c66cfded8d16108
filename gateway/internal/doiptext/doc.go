// Package doiptext implements the standard DOIP v2.0 text framing that real DOIP clients
// speak (doipy, Cordra and CNRI's SDKs), for the gateway's port 3568 when a connection's
// first byte is '{'. The byte contract is the DOIP v2.0 standard (framing §2,
// request §3, response §4, status codes §5, operations §6, errors §7, connections §8); the
// files in testdata/vectors are copies of its vectors (§14).
//
// A message is a sequence of segments followed by an empty segment, a '#' line. A JSON
// segment is a JSON text followed by a line starting with '#'; a bytes segment is an '@'
// line, chunks (a decimal size line, that many bytes, LF) and a '#' line:
//
//	{"targetId":"test/abc","operationId":"0.DOIP/Op.Retrieve"}\n#\n   JSON segment
//	@\n12\nHello World\n\n#\n                                          bytes segment
//	#\n                                                                end of message
//
// The package has two layers. [Reader] and [Writer] are the framing: [Reader.NextSegment]
// returns one segment at a time, a bytes segment as an io.Reader over its chunks, so
// nothing buffers an element; [Writer] writes the canonical bytes of both SDKs. Every size
// is checked against a cap before anything is buffered for it ([Reader.MaxSegment],
// [Reader.MaxChunk], [Reader.MaxMessage]); a size over its cap is [ErrTooLarge], wrapped
// with both numbers, and malformed bytes are a [*ProtocolError] naming the part. An end of
// stream between messages is io.EOF; inside a message it is io.ErrUnexpectedEOF.
//
// [ServerCodec] maps the framing onto the framing-neutral model of package doip: it turns
// a request's first segment into a doip.Request ([OpFromID] maps the operation ids) and
// renders a doip.Response or doip.Error as spec §4–§7 answer them ([StatusFor] maps error
// kinds to status codes), echoing the request's requestId.
//
// What the package does not handle:
//
//   - Authentication. The "authentication" and "clientId" properties of a request are
//     ignored; every request is served anonymously.
//   - Create, Update, Delete and Search. They are decoded (Create, Update and Search to
//     their operations, Delete and other 0.DOIP ids to doip.OpUnknown) and their input
//     segments are read and dropped; the gateway is read-only and answers them as not
//     supported (0.DOIP/Status.200), so the codec has no form for their outputs.
//   - TLS, connection handling, deadlines and the choice of framing by the first byte.
//     Those are the server's job; the codec reads and writes the buffered streams it is
//     given.
//   - The DOIP API for HTTP clients (spec §13, DOIP over HTTPS), and the MaRDI framings of
//     ports 3567 and 3568, which other packages implement.
package doiptext
