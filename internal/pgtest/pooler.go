package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Database creates a fresh database on the test server and returns a URL
// of it; the database is dropped when the test ends. Use it where a schema
// will not do: a proxy in front of the server may not pass search_path.
func Database(t testing.TB) string {
	t.Helper()
	db := Require(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "sluice_test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TransactionPooler starts PgBouncer in transaction mode in front of the
// database of dbURL, with fewer server connections than its clients will
// open (so they share them), and returns a URL that goes through it. It
// stops when the test ends. Without a pgbouncer binary the test skips,
// except under CI=true, where it fails.
func TransactionPooler(t testing.TB, dbURL string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer" // Debian's package, off a user's PATH
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("PgBouncer is required under CI=true (apt-get install pgbouncer): %v", err)
			}
			t.Skipf("PgBouncer not installed (apt-get install pgbouncer): %v", err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Hostname(), "5432"
	}
	// PgBouncer refuses to run as root; it then runs as the postgres
	// user, which must be able to read its files.
	dir, err := os.MkdirTemp("", "pgbouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := u.User.Username()
	users := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(users, fmt.Appendf(nil, "%q \"\"\n", name), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err == nil {
			args = []string{"-u", "postgres"}
		} else {
			args = []string{"-u", "nobody"}
		}
	}
	// PgBouncer takes its port from its file: a free port is picked, then
	// handed over, and another process may take it meanwhile. A start
	// that fails to listen tries another port.
	var addr string
	for try := 1; ; try++ {
		var log []byte
		addr, log = startPgbouncer(t, bin, args, dir, host, port, users)
		if addr != "" {
			break
		}
		if try == 3 {
			t.Fatalf("pgbouncer did not start:\n%s", log)
		}
	}
	pu := *u
	pu.Host = addr
	return pu.String()
}

// startPgbouncer starts PgBouncer on a free port of 127.0.0.1 and returns
// its address, or "" and its log when it exited or did not listen.
func startPgbouncer(t testing.TB, bin string, args []string, dir, host, port, users string) (string, []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ini := filepath.Join(dir, "pgbouncer.ini")
	conf := fmt.Sprintf(`[databases]
* = host=%s port=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 3
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
`, host, port, listen, users)
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, ini)...)
	logFile := filepath.Join(dir, "log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
		out.Close()
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case <-done:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		stop()
		log, _ := os.ReadFile(logFile)
		return "", log
	}
}
