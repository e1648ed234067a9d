// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server named by $SLUICE_TEST_POSTGRES (default the local
// server, postgres@127.0.0.1:5432), dropped when the test ends.
//
// When the server is unreachable, tests skip, except under CI=true, where
// a missing PostgreSQL fails them: CI must never pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the server used when $SLUICE_TEST_POSTGRES is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// BaseURL returns the URL of the test server.
func BaseURL() string {
	if u := os.Getenv("SLUICE_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	once    sync.Once
	admin   *sql.DB
	openErr error
)

// Require returns a connection to the test server, or skips the test (fails
// it under CI=true) when there is none.
func Require(t testing.TB) *sql.DB {
	t.Helper()
	once.Do(func() {
		admin, openErr = sql.Open("pgx", BaseURL())
		if openErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			openErr = admin.PingContext(ctx)
		}
		if admin != nil {
			admin.SetMaxOpenConns(4)
		}
	})
	if openErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true and is not reachable at %s: %v", BaseURL(), openErr)
		}
		t.Skipf("PostgreSQL not reachable at %s (set SLUICE_TEST_POSTGRES): %v", BaseURL(), openErr)
	}
	return admin
}

// Schema creates a fresh schema and returns a URL whose connections use
// it; the schema is dropped when the test ends, unless it failed and
// $SLUICE_TEST_KEEP is set.
func Schema(t testing.TB) string {
	t.Helper()
	db := Require(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "sluice_test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("SLUICE_TEST_KEEP") != "" {
			t.Logf("kept schema %s", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// SchemaOf returns the schema a URL from Schema uses.
func SchemaOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("search_path")
}
