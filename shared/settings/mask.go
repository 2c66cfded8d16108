package settings

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Mask stands in for a secret, or for the user info or query values of an address, wherever
// a value is shown.
const Mask = "xxxxx"

// Redact returns v with what may be a credential masked: the user info of an address
// ("https://user:pw@host/…", "dns://user@resolver/…", "user@host:port") and every query
// value ("?key=…"). Other values are returned as they are.
func Redact(v string) string {
	if at := strings.LastIndex(v, "@"); at >= 0 {
		start := 0
		if i := strings.Index(v, "://"); i >= 0 && i < at {
			start = i + len("://")
		}
		v = v[:start] + Mask + v[at:]
	}
	if q := strings.Index(v, "?"); q >= 0 {
		query, frag, hasFrag := strings.Cut(v[q+1:], "#")
		masked := Mask
		if query == "" {
			masked = ""
		}
		if vals, err := url.ParseQuery(query); err == nil && len(vals) > 0 {
			for k := range vals {
				vals[k] = []string{Mask}
			}
			masked = vals.Encode()
		}
		v = v[:q+1] + masked
		if hasFrag {
			v += "#" + frag
		}
	}
	return v
}

// Secret is a credential. Every way of printing it (fmt, slog, encoding/json, text
// marshalling) shows [Mask] instead of the value; [Secret.Reveal] returns the value, for the
// one place that sends it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns [Mask], or "" when the secret is empty, so that printing a configuration
// shows whether a secret is set but never what it is.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString masks the secret under %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue masks the secret in logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the secret in JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
