package invoke

// SetOnWait sets a function called each time an invocation finds every run slot busy and
// starts waiting. Call it before the server serves.
func (s *Server) SetOnWait(f func()) { s.onWait = f }
