package sync

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// vine's defaults.
const (
	defaultPrefix = "/vine/sync"
	defaultNode   = "127.0.0.1:2379"
)

// optionsFromEnv: vine's defaults overridden by the variables every
// vinesync language reads: VINESYNC_NODES (comma-separated),
// VINESYNC_PREFIX, VINESYNC_DIAL_TIMEOUT_MS, VINESYNC_REQUEST_TIMEOUT_MS,
// VINESYNC_CACERT, VINESYNC_CERT, VINESYNC_KEY, VINESYNC_SERVER_NAME,
// VINESYNC_USER, VINESYNC_PASSWORD and VINESYNC_LAYOUT. The error names a
// variable whose value cannot be read (Init reports it).
func optionsFromEnv() (Options, error) {
	o := Options{Prefix: defaultPrefix, Nodes: []string{defaultNode}}
	if env := os.Getenv("VINESYNC_NODES"); env != "" {
		var nodes []string
		for _, n := range strings.Split(env, ",") {
			if n = strings.TrimSpace(n); n != "" {
				nodes = append(nodes, n)
			}
		}
		if len(nodes) > 0 {
			o.Nodes = nodes
		}
	}
	for name, field := range map[string]*string{
		"VINESYNC_PREFIX":      &o.Prefix,
		"VINESYNC_CACERT":      &o.CAFile,
		"VINESYNC_CERT":        &o.CertFile,
		"VINESYNC_KEY":         &o.KeyFile,
		"VINESYNC_SERVER_NAME": &o.ServerName,
		"VINESYNC_USER":        &o.User,
		"VINESYNC_PASSWORD":    &o.Password,
		"VINESYNC_LAYOUT":      &o.Layout,
	} {
		if env := os.Getenv(name); env != "" {
			*field = env
		}
	}
	if o.Layout != "" && o.Layout != "vinesync" && o.Layout != "vine" {
		return o, &Error{Kind: ErrInvalidArgument, Message: "VINESYNC_LAYOUT=" + strconv.Quote(o.Layout) +
			` is unknown: use "vinesync" (the default) or "vine"`}
	}
	for _, d := range []struct {
		name  string
		field *time.Duration
	}{
		{"VINESYNC_DIAL_TIMEOUT_MS", &o.DialTimeout},
		{"VINESYNC_REQUEST_TIMEOUT_MS", &o.RequestTimeout},
	} {
		env := os.Getenv(d.name)
		if env == "" {
			continue
		}
		ms, err := strconv.ParseUint(env, 10, 64)
		const longest = time.Duration(1<<63 - 1)
		switch {
		case errors.Is(err, strconv.ErrRange) || err == nil && ms > uint64(longest/time.Millisecond):
			// Too large for the clock: no limit, as in the core.
			*d.field = longest
		case err != nil || ms == 0:
			return o, &Error{Kind: ErrInvalidArgument, Message: d.name + "=" + strconv.Quote(env) +
				" is not a whole number of milliseconds greater than zero"}
		default:
			*d.field = time.Duration(ms) * time.Millisecond
		}
	}
	return o, nil
}
