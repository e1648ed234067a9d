package postgres_test

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
	"github.com/sluice-dev/sluice/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock sluice.Clock) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.Options{Clock: clock, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
