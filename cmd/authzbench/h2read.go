package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The reader side of an h2Conn: one goroutine per connection reads frames
// and ends streams as their responses complete.

// readLoop reads frames until the connection fails or is closed, then ends
// every stream still outstanding on it.
func (c *h2Conn) readLoop() {
	defer close(c.readerDone)
	var out []h2Outcome
	for {
		f, err := c.fr.ReadFrame()
		c.mu.Lock()
		var se http2.StreamError
		switch {
		case err == nil:
			out, err = c.handleFrame(f, out)
		case errors.As(err, &se):
			out, err = c.onStreamError(se, out), nil
		}
		if err != nil {
			out = c.shutdown(err, out)
		} else if c.br.Buffered() == 0 {
			c.flush() // acks and window updates go out before the reader waits
		}
		run, wake := c.run, c.wake
		c.wake = false
		c.mu.Unlock()
		if run != nil {
			run.complete(&run.recs[c.idx], out)
			if wake {
				run.signal()
			}
		}
		out = out[:0]
		if err != nil {
			c.nc.Close()
			return
		}
	}
}

// shutdown ends the connection after err: every stream left fails, and a
// connection error is reported to the server. Called with mu held.
func (c *h2Conn) shutdown(err error, out []h2Outcome) []h2Outcome {
	if c.closed {
		return out
	}
	c.closed = true
	code, detail := http2.ErrCodeNo, ""
	var ce http2.ConnectionError
	var hce h2ConnError
	switch {
	case errors.As(err, &hce):
		code, detail = hce.code, hce.reason
	case errors.As(err, &ce):
		code = http2.ErrCode(ce)
		if d := c.fr.ErrorDetail(); d != nil {
			detail = d.Error()
			err = fmt.Errorf("%w (%s)", err, detail)
		}
	case errors.Is(err, http2.ErrFrameTooLarge):
		code = http2.ErrCodeFrameSize
	}
	if c.err == nil {
		c.err = err
	}
	if code != http2.ErrCodeNo {
		c.markWrite()
		_ = c.fr.WriteGoAway(0, code, []byte(detail)) // 0: the server opened no stream
		c.flush()
	}
	lost := status.Errorf(codes.Unavailable, "connection lost: %v", c.err)
	for st := c.streams.front(); st != nil; st = c.streams.front() {
		out = c.finish(st, respResult{}, lost, out)
	}
	c.blocked = c.blocked[:0]
	c.wake = true
	return out
}

// handleFrame handles one frame; an error is a connection error. Called
// with mu held.
func (c *h2Conn) handleFrame(f http2.Frame, out []h2Outcome) ([]h2Outcome, error) {
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f, out)
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f, out), nil
	case *http2.RSTStreamFrame:
		if st := c.streams.get(f.StreamID); st != nil {
			out = c.finish(st, respResult{}, c.resetError(st, f.ErrCode), out)
		}
	case *http2.SettingsFrame:
		return out, c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f, out)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.markWrite()
			if err := c.fr.WritePing(true, f.Data); err != nil {
				c.breakConn(err)
			}
		}
	case *http2.GoAwayFrame:
		return c.onGoAway(f, out), nil
	case *http2.PushPromiseFrame:
		return out, h2ConnError{http2.ErrCodeProtocol, "PUSH_PROMISE with push disabled"}
	}
	return out, nil // PRIORITY, unknown types: nothing to do
}

// onData takes response bytes and returns them to the flow-control
// windows.
func (c *h2Conn) onData(f *http2.DataFrame, out []h2Outcome) ([]h2Outcome, error) {
	n := f.Length // padding included: it counts against the windows
	c.recvWin -= int64(n)
	if c.recvWin < 0 {
		return out, h2ConnError{http2.ErrCodeFlowControl, "DATA beyond the connection window"}
	}
	c.recvUnacked += n
	if c.recvUnacked >= c.opts.connWindow/4 {
		c.windowUpdate(0, c.recvUnacked)
		c.recvWin += int64(c.recvUnacked)
		c.recvUnacked = 0
	}
	st := c.streams.get(f.StreamID)
	if st == nil {
		return out, nil // a stream already ended (reset, timed out)
	}
	st.recvWin -= int64(n)
	switch {
	case st.recvWin < 0:
		return c.abort(st, http2.ErrCodeFlowControl, status.Error(codes.Internal, "DATA beyond the stream window"), out), nil
	case !st.gotHeaders:
		return c.abort(st, http2.ErrCodeProtocol, errDataBeforeHeaders, out), nil
	}
	if err := c.takeMessage(st, f.Data()); err != nil {
		return c.abort(st, http2.ErrCodeCancel, err, out), nil
	}
	if f.StreamEnded() {
		return c.finishClosed(st, respResult{}, errNoTrailers, out), nil
	}
	st.recvUnacked += n
	if st.recvUnacked >= c.opts.streamWindow/4 {
		c.windowUpdate(st.id, st.recvUnacked)
		st.recvWin += int64(st.recvUnacked)
		st.recvUnacked = 0
	}
	return out, nil
}

// resetError is the error of st, reset by the server with code. A server
// cancels a call whose deadline passed (grpc-go does): once the client's
// deadline has passed too, that is DeadlineExceeded, as grpc-go's client
// reports it.
func (c *h2Conn) resetError(st *h2Stream, code http2.ErrCode) error {
	if code == http2.ErrCodeCancel && c.run != nil && c.run.now() >= st.sent+int64(c.run.timeout) {
		return errDeadline
	}
	return resetError(code)
}

// windowUpdate returns n bytes to the server's window of a stream (0: the
// connection).
func (c *h2Conn) windowUpdate(stream, n uint32) {
	if n == 0 {
		return
	}
	c.markWrite()
	if err := c.fr.WriteWindowUpdate(stream, n); err != nil {
		c.breakConn(err)
	}
}

// takeMessage adds data to st's response message and decodes the message
// once it is complete. When a DATA frame holds a whole message, as is usual,
// it is decoded in place, without a copy.
func (c *h2Conn) takeMessage(st *h2Stream, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if st.gotMsg {
		return errExtraMessage
	}
	buf := data
	if len(st.msg) > 0 || !holdsMessage(data) {
		st.msg = append(st.msg, data...)
		buf = st.msg
	}
	if len(buf) < grpcPrefixLen {
		return nil
	}
	if buf[0] != 0 {
		return errCompressedResponse
	}
	size := binary.BigEndian.Uint32(buf[1:grpcPrefixLen])
	if size > maxResponseSize {
		return responseTooLarge(size)
	}
	end := grpcPrefixLen + int(size)
	switch {
	case len(buf) < end:
		return nil
	case len(buf) > end:
		return errExtraMessage
	}
	res, err := decodeCheckResponse(buf[grpcPrefixLen:end], c.opts.decodeFull)
	st.msg, st.gotMsg, st.result = nil, true, res
	return err
}

// holdsMessage reports whether b is exactly one gRPC message or more.
func holdsMessage(b []byte) bool {
	return len(b) >= grpcPrefixLen && uint64(len(b)) >= grpcPrefixLen+uint64(binary.BigEndian.Uint32(b[1:grpcPrefixLen]))
}

// onHeaders takes response headers, or ends the stream on trailers (or a
// Trailers-Only response).
func (c *h2Conn) onHeaders(mh *http2.MetaHeadersFrame, out []h2Outcome) []h2Outcome {
	st := c.streams.get(mh.StreamID)
	if st == nil {
		return out
	}
	if mh.Truncated {
		return c.abort(st, http2.ErrCodeCancel, errHeadersTooLarge, out)
	}
	if !mh.StreamEnded() {
		if st.gotHeaders {
			return c.abort(st, http2.ErrCodeProtocol, errSecondHeaders, out)
		}
		st.gotHeaders = true
		if err := responseHeadersError(mh); err != nil {
			return c.abort(st, http2.ErrCodeCancel, err, out)
		}
		return out
	}
	err := trailersError(mh, st.gotHeaders)
	if err == nil && !st.gotMsg {
		err = errNoMessage
	}
	res := st.result
	if err != nil {
		res = respResult{}
	}
	return c.finishClosed(st, res, err, out)
}

// onStreamError ends a stream whose frames the framer rejected (malformed
// headers, a zero window increment).
func (c *h2Conn) onStreamError(se http2.StreamError, out []h2Outcome) []h2Outcome {
	st := c.streams.get(se.StreamID)
	if st == nil {
		return out
	}
	return c.abort(st, se.Code, status.Errorf(codes.Internal, "malformed response: %v", se), out)
}

// onSettings applies and acknowledges the server's SETTINGS.
func (c *h2Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return h2ConnError{http2.ErrCodeProtocol, fmt.Sprintf("SETTINGS: %v", err)}
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams = s.Val
		case http2.SettingMaxFrameSize:
			c.maxFrame = s.Val
		case http2.SettingInitialWindowSize:
			return c.setInitialWindow(int64(s.Val))
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.markWrite()
	if err := c.fr.WriteSettingsAck(); err != nil {
		c.breakConn(err)
		return nil
	}
	c.drainBlocked()
	c.wake = true
	return nil
}

// setInitialWindow changes the send window of every stream by the change
// of the server's initial window.
func (c *h2Conn) setInitialWindow(v int64) error {
	delta := v - c.initWin
	c.initWin = v
	over := false
	c.streams.forEach(func(st *h2Stream) {
		st.sendWin += delta
		over = over || st.sendWin > h2MaxWindow
	})
	if over {
		return h2ConnError{http2.ErrCodeFlowControl, "INITIAL_WINDOW_SIZE overflows a stream window"}
	}
	return nil
}

// onWindowUpdate grows a send window and sends what it now allows.
func (c *h2Conn) onWindowUpdate(f *http2.WindowUpdateFrame, out []h2Outcome) ([]h2Outcome, error) {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > h2MaxWindow {
			return out, h2ConnError{http2.ErrCodeFlowControl, "connection window above 2^31-1"}
		}
	} else if st := c.streams.get(f.StreamID); st != nil {
		st.sendWin += inc
		if st.sendWin > h2MaxWindow {
			return c.abort(st, http2.ErrCodeFlowControl, status.Error(codes.Internal, "stream window above 2^31-1"), out), nil
		}
	}
	c.drainBlocked()
	return out, nil
}

// onGoAway stops new streams on c and fails the streams the server will
// not process; those it will may still complete.
func (c *h2Conn) onGoAway(f *http2.GoAwayFrame, out []h2Outcome) []h2Outcome {
	why := fmt.Errorf("server sent GOAWAY (%v, last stream %d, %q)", f.ErrCode, f.LastStreamID, f.DebugData())
	if c.err == nil || c.goaway {
		c.err = why
	}
	c.goaway = true
	refused := status.Errorf(codes.Unavailable, "not processed: %v", why)
	c.streams.forEach(func(st *h2Stream) {
		if st.id > f.LastStreamID {
			out = c.finish(st, respResult{}, refused, out)
		}
	})
	c.wake = true
	return out
}
