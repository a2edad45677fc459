package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testEnvVars(t *testing.T, open Opener) {
	t.Run("WorkspaceAndPersonal", func(t *testing.T) {
		s := open(t)
		u, ws := ownerAndWorkspace(t, s, "env@x.io")
		_, other := ownerAndWorkspace(t, s, "env2@x.io")
		put := func(v *store.EnvVar) error { v.Ciphertext = []byte("sealed " + v.Name); return s.SetEnvVar(ctx, v) }
		a0, w0 := s.AuthEpoch(), s.WorkflowEpoch()
		// Names list in byte order: "B" before "a".
		for _, v := range []*store.EnvVar{
			{WorkspaceID: ws.ID, Name: "b"}, {WorkspaceID: ws.ID, Name: "a", UpdatedBy: "operator"}, {WorkspaceID: ws.ID, Name: "B"},
			{UserID: u.ID, Name: "a"}, {WorkspaceID: other.ID, Name: "a"},
		} {
			wantErr(t, "set "+v.Name, put(v), nil)
			if v.UpdatedAt.IsZero() {
				t.Errorf("set %s: no update time", v.Name)
			}
		}
		if s.AuthEpoch() != a0 || s.WorkflowEpoch() != w0 {
			t.Error("setting environment variables bumped an epoch")
		}
		for _, c := range []struct {
			name string
			v    *store.EnvVar
			want error
		}{
			{"both owners", &store.EnvVar{WorkspaceID: ws.ID, UserID: u.ID, Name: "X"}, store.ErrInvalid},
			{"no owner", &store.EnvVar{Name: "X"}, store.ErrInvalid},
			{"no name", &store.EnvVar{WorkspaceID: ws.ID}, store.ErrInvalid},
			{"unknown workspace", &store.EnvVar{WorkspaceID: "nope", Name: "X"}, store.ErrNotFound},
			{"unknown user", &store.EnvVar{UserID: "nope", Name: "X"}, store.ErrNotFound},
		} {
			if err := put(c.v); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if err := s.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "empty"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("no sealed value: %v", err)
		}

		names := func(vs []*store.EnvVar) (out []string) {
			for _, v := range vs {
				out = append(out, v.Name)
			}
			return out
		}
		wsVars, personal, err := s.RunEnvVars(ctx, ws.ID, u.ID)
		if err != nil || !slices.Equal(names(wsVars), []string{"B", "a", "b"}) || len(personal) != 1 || !personal[0].Personal() ||
			personal[0].UserID != u.ID || personal[0].WorkspaceID != "" || string(personal[0].Ciphertext) != "sealed a" {
			t.Fatalf("run env = %v %+v %v", names(wsVars), personal, err)
		}
		a := wsVars[1]
		if a.WorkspaceID != ws.ID || a.UserID != "" || string(a.Ciphertext) != "sealed a" || a.UpdatedBy != "operator" || a.UpdatedAt.IsZero() {
			t.Errorf("stored variable = %+v", a)
		}
		if _, personal, err := s.RunEnvVars(ctx, ws.ID, ""); err != nil || personal != nil {
			t.Fatalf("no user, yet personal vars: %+v %v", personal, err)
		}
		if vs, err := s.EnvVars(ctx, other.ID); err != nil || !slices.Equal(names(vs), []string{"a"}) || string(vs[0].Ciphertext) != "sealed a" {
			t.Errorf("other workspace = %v %v", names(vs), err)
		}
		if vs, err := s.EnvVars(ctx, "no-such-ws"); err != nil || len(vs) != 0 {
			t.Errorf("unknown workspace = %v %v", names(vs), err)
		}

		// Setting again replaces the value and its time.
		at := t0.Add(time.Hour)
		wantErr(t, "replace", s.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "a", Ciphertext: []byte("v2"), UpdatedAt: at, UpdatedBy: "key:k1"}), nil)
		vs, _ := s.EnvVars(ctx, ws.ID)
		if len(vs) != 3 || string(vs[1].Ciphertext) != "v2" || !vs[1].UpdatedAt.Equal(at) || vs[1].UpdatedBy != "key:k1" {
			t.Errorf("after replace = %+v", vs)
		}
		// A personal variable of the same name is a different variable.
		if vs, _ := s.UserEnvVars(ctx, u.ID); len(vs) != 1 || string(vs[0].Ciphertext) != "sealed a" {
			t.Errorf("personal after workspace replace = %+v", vs)
		}

		wantErr(t, "delete", s.DeleteEnvVar(ctx, ws.ID, "a"), nil)
		wantErr(t, "second delete", s.DeleteEnvVar(ctx, ws.ID, "a"), store.ErrNotFound)
		wantErr(t, "delete personal through the workspace", s.DeleteEnvVar(ctx, u.ID, "a"), store.ErrNotFound)
		if vs, _ := s.EnvVars(ctx, ws.ID); !slices.Equal(names(vs), []string{"B", "b"}) {
			t.Errorf("after delete = %v", names(vs))
		}
		if vs, _ := s.EnvVars(ctx, other.ID); len(vs) != 1 {
			t.Errorf("delete reached another workspace: %v", names(vs))
		}
		wantErr(t, "delete personal", s.DeleteUserEnvVar(ctx, u.ID, "a"), nil)
		wantErr(t, "second delete personal", s.DeleteUserEnvVar(ctx, u.ID, "a"), store.ErrNotFound)
		if vs, err := s.UserEnvVars(ctx, u.ID); err != nil || len(vs) != 0 {
			t.Errorf("personal vars after delete = %+v %v", vs, err)
		}
	})
}
