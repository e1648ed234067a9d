package store

import (
	"context"
	"time"
)

// Features is the part of the store behind pools, mapped tasks, secrets,
// variables and callbacks.
type Features interface {
	// InstanceExpand turns the claimed instance of a mapped task into one
	// queued instance per item; the attempt that expanded it ends, and the
	// mapped task finishes when its items have. With no items the task is
	// skipped. Fenced by the lease: sluice.ErrLeaseLost when not held.
	InstanceExpand(ctx context.Context, p *InstanceExpandParams) error

	// PoolSet creates or resizes a pool.
	PoolSet(ctx context.Context, p *Pool) error
	// PoolList returns every pool with its slots in use and the instances
	// waiting for it, by name.
	PoolList(ctx context.Context) ([]*Pool, error)
	// PoolDelete deletes a pool; its tasks then wait until it exists again.
	PoolDelete(ctx context.Context, name string) error

	// SecretSet stores a secret's encrypted value.
	SecretSet(ctx context.Context, name string, ciphertext []byte) error
	// SecretGet returns the encrypted values of the named secrets; a name
	// without a secret is missing from the map.
	SecretGet(ctx context.Context, names []string) (map[string][]byte, error)
	// SecretList returns the secrets' names and times, never their values.
	SecretList(ctx context.Context) ([]*Secret, error)
	// SecretDelete deletes a secret.
	SecretDelete(ctx context.Context, name string) error

	// VariableSet sets a variable.
	VariableSet(ctx context.Context, name, value string) error
	// VariableList returns every variable, by name.
	VariableList(ctx context.Context) ([]*Variable, error)
	// VariableDelete deletes a variable.
	VariableDelete(ctx context.Context, name string) error

	// CallbackClaim claims callbacks to run: pending ones, and running ones
	// whose lease expired (their worker died), at most three tries each.
	CallbackClaim(ctx context.Context, p *CallbackClaimParams) ([]*Callback, error)
	// CallbackComplete records a callback's end, fenced by its token;
	// errMsg is empty when it succeeded.
	CallbackComplete(ctx context.Context, id, token int64, errMsg string) error
	// CallbackList returns the callbacks of a run, in order.
	CallbackList(ctx context.Context, runID int64) ([]*Callback, error)
}

// InstanceExpandParams are the arguments of Features.InstanceExpand.
type InstanceExpandParams struct {
	Lease Lease
	Items []string
}

// Pool is a named number of slots.
type Pool struct {
	Name        string
	Slots       int
	Description string
	// Used is the slots taken by running instances; Queued counts the
	// instances ready and waiting for the pool. Set by PoolList.
	Used   int
	Queued int
}

// Secret is a secret's metadata.
type Secret struct {
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Variable is a named value.
type Variable struct {
	Name      string
	Value     string
	UpdatedAt time.Time
}

// CallbackClaimParams are the arguments of Features.CallbackClaim.
type CallbackClaimParams struct {
	Worker        string
	Limit         int
	LeaseDuration time.Duration
}

// Callback is a callback to run: the event it answers and where.
type Callback struct {
	ID    int64
	Token int64
	RunID int64
	// TaskID is empty for a pipeline's callback.
	TaskID   string
	MapIndex int
	// Event is "success", "failure" or "retry".
	Event string
	// Attempt is the number of the attempt the event is about (task
	// callbacks).
	Attempt int
	// AttemptError is that attempt's error as stored (CallbackClaim
	// reads it), empty if it had none or is gone.
	AttemptError string
	Tries        int
	// State is pending, running, done or failed; Error says why it failed.
	State string
	Error string
}
