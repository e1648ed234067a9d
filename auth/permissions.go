package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// Action is something a request may do. Every route of the API and every
// page and form of the UI names the action it performs, and Permissions
// says which role each action needs, so the two surfaces cannot disagree
// on who may do what.
type Action string

// The actions.
const (
	// View reads pipelines, versions, runs, task logs, backfills, pools,
	// workers and capacity, and logs out.
	View Action = "view"
	// PausePipelines pauses and resumes schedules.
	PausePipelines Action = "pipelines.pause"
	// TriggerRuns triggers runs, starts backfills and records asset
	// events.
	TriggerRuns Action = "runs.trigger"
	// ChangeRuns cancels and retries runs, clears and marks their tasks,
	// and cancels backfills.
	ChangeRuns Action = "runs.change"
	// ViewVariables reads variables and their values.
	ViewVariables Action = "variables.view"
	// EditVariables sets and deletes variables.
	EditVariables Action = "variables.edit"
	// ViewSecrets lists secrets: names and times, never values.
	ViewSecrets Action = "secrets.view"
	// EditSecrets sets and deletes secrets.
	EditSecrets Action = "secrets.edit"
	// EditPools creates, changes and deletes pools.
	EditPools Action = "pools.edit"
	// UploadPipelines uploads pipeline files.
	UploadPipelines Action = "pipelines.upload"
	// DeletePipelines deletes pipelines with their history.
	DeletePipelines Action = "pipelines.delete"
	// ManageUsers adds, changes and deletes users.
	ManageUsers Action = "users.manage"
	// ManageTokens lists, creates and revokes API tokens.
	ManageTokens Action = "tokens.manage"
	// Maintain runs maintenance such as pruning now.
	Maintain Action = "maintenance"
)

// permission is one row of the table of who may do what.
type permission struct {
	action Action
	role   store.Role
	// what the action does, for error messages and the docs.
	what string
}

// permissions is the table of who may do what, in the order the docs list
// it.
//
// Variables are configuration that pipelines read (${{ vars.x }}), often
// hosts, buckets and account names a viewer has no need of; like
// Airflow's Viewer, a viewer does not read them. Secret names tell an
// operator what a pipeline may list under secrets:; their values are
// never shown to anyone.
var permissions = []permission{
	{View, store.RoleViewer, "read pipelines, runs, logs, backfills, pools, workers and capacity"},
	{PausePipelines, store.RoleOperator, "pause and resume pipelines"},
	{TriggerRuns, store.RoleOperator, "trigger runs and backfills, record asset events"},
	{ChangeRuns, store.RoleOperator, "cancel and retry runs, clear and mark tasks, cancel backfills"},
	{ViewVariables, store.RoleOperator, "read variables"},
	{EditVariables, store.RoleOperator, "set and delete variables"},
	{ViewSecrets, store.RoleOperator, "list secret names (never values)"},
	{EditSecrets, store.RoleAdmin, "set and delete secrets"},
	{EditPools, store.RoleAdmin, "create, change and delete pools"},
	{UploadPipelines, store.RoleAdmin, "upload pipelines"},
	{DeletePipelines, store.RoleAdmin, "delete pipelines"},
	{ManageUsers, store.RoleAdmin, "manage users"},
	{ManageTokens, store.RoleAdmin, "manage API tokens"},
	{Maintain, store.RoleAdmin, "run maintenance"},
}

// Permission is one row of the table of who may do what, for docs and
// tests.
type Permission struct {
	Action Action
	Role   store.Role
	What   string
}

// Permissions returns the table of who may do what.
func Permissions() []Permission {
	out := make([]Permission, len(permissions))
	for i, p := range permissions {
		out[i] = Permission{Action: p.action, Role: p.role, What: p.what}
	}
	return out
}

// RolesText says what each role may do, a sentence per role ("viewer:
// read …. operator: also …."), for the API's document and the UI's users
// page.
func RolesText() string {
	var parts []string
	for i, role := range store.Roles {
		var whats []string
		for _, p := range permissions {
			if p.role == role {
				whats = append(whats, p.what)
			}
		}
		also := ""
		if i > 0 {
			also = "also "
		}
		parts = append(parts, fmt.Sprintf("%s: %s%s.", role, also, strings.Join(whats, "; ")))
	}
	return strings.Join(parts, " ")
}

func (a Action) row() (permission, bool) {
	for _, p := range permissions {
		if p.action == a {
			return p, true
		}
	}
	return permission{}, false
}

// Role returns the least role the action needs. An action missing from the
// table needs a role no one has, so a typo refuses rather than allows.
func (a Action) Role() store.Role {
	p, ok := a.row()
	if !ok {
		return store.Role("unknown action " + string(a))
	}
	return p.role
}

// Valid reports whether a is in the table.
func (a Action) Valid() bool {
	_, ok := a.row()
	return ok
}

// Can reports whether the principal may do a.
func (p *Principal) Can(a Action) bool { return p != nil && a.Valid() && p.Role.Allows(a.Role()) }

// Allow returns an error unless the request's principal may do a: EUNAUTH
// when nobody is logged in, EFORBIDDEN (saying which role it needs) when
// the principal's role is too low.
func Allow(ctx context.Context, a Action) error {
	p := FromContext(ctx)
	if p == nil {
		return sluice.Errorf(sluice.EUNAUTH, "log in, or send an API token as 'Authorization: Bearer …'")
	}
	if p.Can(a) {
		return nil
	}
	row, ok := a.row()
	if !ok {
		return sluice.Errorf(sluice.EINTERNAL, "auth: no permission for action %q", a)
	}
	return sluice.Errorf(sluice.EFORBIDDEN, "%s may not %s: it needs the %s role", p.describe(), row.what, row.role)
}

// describe names the principal in an error: `session "vic" (viewer)`.
func (p *Principal) describe() string {
	return fmt.Sprintf("%s %q (%s)", p.Via, p.Name, p.Role)
}
