// Package logging builds archiver's structured log: log/slog records on
// stderr, JSON by default (one event per line for Fluent Bit or
// CloudWatch Logs) or text. Options are the --log-level and --log-format
// flags; each value is checked as it is parsed, so a bad value is a usage
// error before any work starts.
//
// It owns only the logger's level, format and handler; it must not decide
// what is logged (each package logs its own events) or import anything of
// ours.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Options are the logger's settings.
type Options struct {
	Level  Level
	Format Format
}

// New returns the logger writing to w. Its level follows o.Level, also
// when Quiet lowers it later.
func (o *Options) New(w io.Writer) *slog.Logger {
	h := &slog.HandlerOptions{Level: &o.Level.v}
	if o.Format == Text {
		return slog.New(slog.NewTextHandler(w, h))
	}
	return slog.New(slog.NewJSONHandler(w, h))
}

// Quiet raises the level to warn unless a level was chosen: a progress
// bar on a terminal stays readable.
func (o *Options) Quiet() {
	if !o.Level.set {
		o.Level.v.Set(slog.LevelWarn)
	}
}

// Level is --log-level: debug, info, warn or error (any case, with
// slog's offsets such as "info+2"). The zero value is info, not set.
type Level struct {
	v   slog.LevelVar
	set bool
}

// Set parses s; on error the level is unchanged.
func (l *Level) Set(s string) error {
	var v slog.Level
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	l.v.Set(v)
	l.set = true
	return nil
}

// String is the level as given ("" when not set: info by default).
func (l *Level) String() string {
	if !l.set {
		return ""
	}
	return strings.ToLower(l.v.Level().String())
}

// Type names the value in help text.
func (l *Level) Type() string { return "level" }

// Format is --log-format: JSON (the default, the zero value) or Text.
type Format string

const (
	JSON Format = "json"
	Text Format = "text"
)

// Set parses s; on error the format is unchanged.
func (f *Format) Set(s string) error {
	switch Format(s) {
	case JSON, Text:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("%q: want json or text", s)
}

func (f *Format) String() string {
	if *f == "" {
		return string(JSON)
	}
	return string(*f)
}

// Type names the value in help text.
func (f *Format) Type() string { return "format" }
