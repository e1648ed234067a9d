package sqlite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sluice-dev/sluice"
)

// LockFile is the file in the data directory that one process holds locked.
const LockFile = "sluice.lock"

// lockDir takes an exclusive advisory lock on dir/sluice.lock and writes the
// holder's pid and description into it. The kernel releases the lock when
// the process dies, however it dies, so a stale file never blocks a restart.
func lockDir(dir, holder string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		info, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(bytes.TrimSpace(info)))
		if who == "" {
			who = "another process"
		}
		return nil, &sluice.Error{
			Code: sluice.EDATADIRUSE,
			Message: fmt.Sprintf("data dir %s is in use by %s.\n"+
				"SQLite allows one sluice process per data dir: stop that one, use another --home, "+
				"or run several processes on PostgreSQL (--db postgres://…)", dir, who),
		}
	}
	if holder == "" {
		holder = strings.Join(os.Args, " ")
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d (%s)\n", os.Getpid(), holder)), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
