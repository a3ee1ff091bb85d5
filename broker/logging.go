package broker

import (
	"context"
	"log/slog"
	"time"

	"github.com/iotlab/iotlab/broker/awslog"
)

// LoggingChanged re-reads the V2 logging configuration from the Directory (when it is a
// LoggingDirectory). Call it after SetV2LoggingOptions, SetV2LoggingLevel and DeleteV2LoggingLevel.
func (s *Server) LoggingChanged() {
	if ld, ok := s.dir.(LoggingDirectory); ok {
		cfg := ld.Logging()
		s.logCfg.Store(&cfg)
	}
	s.logGen.Add(1)
}

// threshold returns the most verbose level at which the file log takes entries about c, cached per
// connection (generation and level packed in one word) until the configuration changes.
func (s *Server) threshold(c *conn) awslog.Level {
	gen := s.logGen.Load()
	if v := c.logState.Load(); v>>8 == gen && gen != 0 {
		return awslog.Level(v & 0xff)
	}
	l := s.logCfg.Load().MaxThreshold(s.subject(c))
	c.logState.Store(gen<<8 | uint64(uint8(l)))
	return l
}

// subject is who entries about c are about, for log targets: fixed once the connection is established
// (with the thing's groups when the Directory knows them), the bare identity before.
func (s *Server) subject(c *conn) awslog.Subject {
	if sub := c.logSubject.Load(); sub != nil {
		return *sub
	}
	return awslog.Subject{ClientID: c.clientID, PrincipalID: c.certID, SourceIP: c.remoteIP}
}

// fixSubject records c's log subject, thing groups included.
func (s *Server) fixSubject(c *conn) {
	sub := awslog.Subject{ClientID: c.clientID, PrincipalID: c.certID, SourceIP: c.remoteIP}
	if gd, ok := s.dir.(ThingGroupDirectory); ok {
		c.authz.mu.Lock()
		p := s.current(c)
		c.authz.mu.Unlock()
		if p.ctx != nil && p.ctx.Thing != nil && p.ctx.Thing.IsAttached {
			sub.ThingGroups = gd.ThingGroups(p.ctx.Thing.Name)
		}
	}
	c.logSubject.Store(&sub)
	c.logState.Store(0) // recompute the threshold with the groups
}

// wantLog is the cheap test made before building an entry of level lvl about c: the file log or the
// Logger (stderr) would take it.
func (s *Server) wantLog(c *conn, lvl awslog.Level) bool {
	if s.logFile != nil && lvl <= s.threshold(c) {
		return true
	}
	return s.log.Enabled(context.Background(), slogLevel(lvl))
}

// entry starts a message-broker entry about c.
func (s *Server) entry(c *conn, now time.Time, lvl awslog.Level, status, eventType string) awslog.Entry {
	return awslog.Entry{
		Timestamp:   now,
		LogLevel:    lvl,
		TraceID:     newUUID(),
		AccountID:   s.opt.Account,
		Status:      status,
		EventType:   eventType,
		Protocol:    "MQTT",
		ClientID:    c.clientID,
		PrincipalID: c.certID,
		SourceIP:    c.remoteIP,
		SourcePort:  c.remotePort,
	}
}

// writeLog sends e to the file, when the configuration asks for it, and to the Logger.
func (s *Server) writeLog(c *conn, e *awslog.Entry) {
	if s.logFile != nil && e.LogLevel <= s.logCfg.Load().Threshold(e.EventType, s.subject(c)) {
		if err := s.logFile.Write(e); err != nil {
			s.log.Warn("broker: writing the AWS log", "err", err)
		}
	}
	if lvl := slogLevel(e.LogLevel); s.log.Enabled(context.Background(), lvl) {
		s.log.Log(context.Background(), lvl, e.EventType+" "+e.Status, e.Fields()...)
	}
}

func slogLevel(l awslog.Level) slog.Level {
	switch l {
	case awslog.Error:
		return slog.LevelError
	case awslog.Warn:
		return slog.LevelWarn
	case awslog.Info:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
