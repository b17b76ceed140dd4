package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// bump is the critical section every process of a mixed-fleet lock test
// runs while it holds lock1: it marks itself inside (a second process
// inside at the same time is an overlap, recorded), reads the shared
// counter, waits a little (so an overlap would lose an increment) and
// writes it back plus one.
func bump(dir string) error {
	inside := filepath.Join(dir, "inside")
	marker, err := os.OpenFile(inside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	overlapped := errors.Is(err, fs.ErrExist)
	if err != nil && !overlapped {
		return err
	}
	if overlapped {
		if err := appendLine(filepath.Join(dir, "overlaps"), strconv.Itoa(os.Getpid())); err != nil {
			return err
		}
	} else {
		marker.Close()
		defer os.Remove(inside)
	}
	counter := filepath.Join(dir, "counter")
	n := 0
	if text, err := os.ReadFile(counter); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(text)))
	}
	time.Sleep(5 * time.Millisecond)
	return os.WriteFile(counter, []byte(fmt.Sprintf("%d\n", n+1)), 0o644)
}

func appendLine(file, line string) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}
