// Package envelope implements the binary DOIP envelope of port 3567, the framing that the
// MaRDI DOIP server's existing clients speak. The byte contract is
// the MaRDI binary envelope specification (sections 1–4); the files in testdata/vectors are
// copies of that contract's golden vectors.
//
// A message is a fixed 10-byte [Header] (version 0x02, message type, operation, flags, object
// id length, payload length; all integers big-endian), the object id, and a payload of zero
// or more blocks filling exactly [Header.PayloadLen] bytes. Each block is a 5-byte block
// header (type, body length) and a body: a [MetadataBlock] or [WorkflowBlock] holds one JSON
// object, a [ComponentBlock] holds a component id, a media type and the component's bytes.
//
// A [Framer] reads and writes messages on a connection in two ways. [Framer.ReadMessage] and
// [Framer.WriteMessage] handle whole messages held in memory: requests, and small responses.
// The streaming methods ([Framer.ReadHeader], [Framer.NextBlock], [Framer.ReadJSONBlock],
// [Framer.ReadComponentHeader], [Framer.Content] on the read side; [Framer.WriteHeader],
// [Framer.WriteJSONBlock], [Framer.WriteComponentHeader], [Framer.Writer] on the write side)
// move a large component without holding it in memory. Because the payload length comes
// first, a streaming writer computes it up front from sizes that storage reports, with
// [JSONBlockLen] and [ComponentBlockLen].
//
// Every length read from the wire is checked against a cap ([Framer.MaxPayload],
// [Framer.MaxObjectID], [Framer.MaxJSON]) before anything is allocated for it; a length over
// its cap is reported as [ErrTooLarge], wrapped with both numbers. Malformed bytes are
// reported as a [*ProtocolError] naming the field. An end of stream between messages is
// [io.EOF]; inside a message it is [io.ErrUnexpectedEOF].
//
// What the package does not handle:
//
//   - Flags. No flag is defined by the clients in use; the flags byte is decoded, kept and
//     echoed, and never rejected.
//   - Operations. The operation byte is carried as a [doip.Op] and never rejected, known or
//     not: the caller routes on it, or on the "operation" name in the first metadata block
//     (spec §3).
//   - TLS, connection handling, deadlines and buffering. Those are the listener's job; the
//     Framer reads and writes the io.Reader and io.Writer it is given, unbuffered, and the
//     caller wraps a connection in a bufio.Reader or bufio.Writer (and flushes it) as needed.
//   - The length-prefixed JSON segments and the DOIP v2.0 text segments of port 3568 (spec §5);
//     other packages implement them.
package envelope
