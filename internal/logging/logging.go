// Package logging builds popgate's root zap logger. Only internal/app calls
// it; everything else is handed a *zap.Logger.
package logging

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats accepted by New.
const (
	JSON    = "json"
	Console = "console"
)

// New returns a logger writing format ("json" or "console") lines at level
// and above to w, with ISO 8601 times. Sampling is off: the one "session"
// line per connection must never be dropped under load. The returned
// AtomicLevel changes the level at run time.
func New(w io.Writer, format string, level zapcore.Level) (*zap.Logger, zap.AtomicLevel, error) {
	if format != JSON && format != Console {
		return nil, zap.AtomicLevel{}, fmt.Errorf("logging: unknown format %q", format)
	}
	lvl := zap.NewAtomicLevelAt(level)
	cfg := zap.NewProductionConfig()
	cfg.Level = lvl
	cfg.Sampling = nil
	cfg.Encoding = format
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncoderConfig.TimeKey = "time"
	if format == Console {
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	enc, err := newEncoder(cfg)
	if err != nil {
		return nil, zap.AtomicLevel{}, err
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w)))), lvl, nil
}

// newEncoder builds the encoder cfg describes. zap.Config.Build would open
// its output paths by name; popgate writes to a given io.Writer instead.
func newEncoder(cfg zap.Config) (zapcore.Encoder, error) {
	switch cfg.Encoding {
	case Console:
		return zapcore.NewConsoleEncoder(cfg.EncoderConfig), nil
	default:
		return zapcore.NewJSONEncoder(cfg.EncoderConfig), nil
	}
}
