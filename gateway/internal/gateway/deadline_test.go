package gateway

import (
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	sets     int
	deadline time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.sets++
	c.deadline = t
	return nil
}

func (c *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }

// TestDeadlineWriterKeepsDeadlineFresh: at every write the deadline lies between
// 15/16 of the timeout and the whole timeout ahead, so a stalled client is cut off in about
// the write timeout and a moving one never is; and writes close together set it once.
func TestDeadlineWriterKeepsDeadlineFresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const timeout = 16 * time.Second
		nc := &deadlineConn{}
		d := &deadlineWriter{conn: nc, timeout: timeout}
		check := func(when string) {
			t.Helper()
			if _, err := d.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			left := time.Until(nc.deadline)
			if left < timeout-timeout/16 || left > timeout {
				t.Fatalf("%s: the deadline is %v ahead, want between %v and %v", when, left, timeout-timeout/16, timeout)
			}
		}
		for range 100 {
			check("a burst")
		}
		if nc.sets != 1 {
			t.Errorf("a burst of 100 writes set the deadline %d times, want 1", nc.sets)
		}
		for range 200 {
			time.Sleep(300 * time.Millisecond) // a slow but moving client, for a minute
			check("a slow client")
		}
		if nc.sets > 60 {
			t.Errorf("a minute of writes every 300ms set the deadline %d times", nc.sets)
		}
	})
}
