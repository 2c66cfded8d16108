// Package segment implements the length-prefixed JSON segments of port 3568, the second
// framing that the MaRDI DOIP server's existing clients speak. The byte contract is
// the MaRDI binary envelope specification, section 5; sections 3 and 4 say what those clients
// send and expect back, which this framing carries in JSON instead of blocks.
//
// Every segment is a 4-byte big-endian length and that many bytes; a message is a sequence
// of segments ended by a segment of length 0. A [Reader] reads segments, whole
// ([Reader.ReadSegment]) or streamed ([Reader.NextSegment], [Reader.Content]); a [Writer]
// writes them, whole ([Writer.WriteSegment]) or streamed ([Writer.WriteSegmentHeader], then
// [Writer.Write]), and ends a message with [Writer.End]. The end of a message is reported
// as [ErrEndOfMessage], distinct from [io.EOF], which is a clean end of the stream between
// messages; an end inside a message is [io.ErrUnexpectedEOF].
//
// Every length read from the wire is checked against [Reader.MaxSegment] (for a segment
// read whole) and [Reader.MaxMessage] (for all segments of a message) before anything is
// allocated for it, and a segment read whole gets a buffer that grows as its bytes arrive.
// A length over a cap is [ErrTooLarge], wrapped with both numbers.
//
// [ServerCodec] serves the gateway's port 3568 with this framing. A request's first segment
// is a JSON object {"targetId":…,"operationId":…,"attributes":{…}}; it becomes a
// [doip.Request]. An answer is a JSON status segment, then one raw segment per component,
// rendered from the same parts as the binary envelope's answer ([mardijson.ResponseParts]).
// Malformed requests are reported as a [*ProtocolError] or [ErrTooLarge] with a *doip.Error
// in the chain, for the server to answer with [ServerCodec.WriteError].
//
// What the package does not handle:
//
//   - Telling this framing from the standard DOIP v2.0 text segments, which share port 3568.
//     The listener peeks the first byte ('{' starts the text framing) and picks a codec.
//   - Segments after the first in a request. They are read, counted against the message
//     cap, and dropped: no operation the gateway serves takes input bytes.
//   - More than one request per connection. The spec's server closes after one answer, and
//     [ServerCodec.KeepAlive] reports false.
//   - Empty components in an answer. A zero-length segment would end the message, so a
//     component of 0 bytes is left out of the answer.
//   - Progress events, request ids, byte ranges and the other attributes of the standard
//     DOIP v2.0 framing; they are not part of this one.
//   - TLS, deadlines and buffering. Those are the listener's job; the codec reads and writes
//     the bufio.Reader and bufio.Writer it is given, and the server flushes the writer.
package segment
