package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testWorkflows(t *testing.T, open Opener) {
	t.Run("Create", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "wf-create@x.io")
		a0, w0 := s.AuthEpoch(), s.WorkflowEpoch()
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "  Hello  ", Description: "d", Draft: json.RawMessage(`{"blocks":[1,2],"a":"b"}`)}
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		if wf.ID == "" || wf.Name != "Hello" || wf.CreatedAt.IsZero() || wf.UpdatedAt.IsZero() {
			t.Fatalf("created = %+v: want an id, a trimmed name and times", wf)
		}
		// A new workflow id changes which grant targets resolve where: both epochs move.
		if s.AuthEpoch() == a0 || s.WorkflowEpoch() == w0 {
			t.Errorf("epochs after create: auth %d→%d workflows %d→%d, want both bumped", a0, s.AuthEpoch(), w0, s.WorkflowEpoch())
		}
		got, err := s.GetWorkflow(ctx, wf.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != wf.ID || got.WorkspaceID != ws.ID || got.Name != "Hello" || got.Description != "d" ||
			string(got.Draft) != `{"blocks":[1,2],"a":"b"}` || got.IsDeployed() || got.LatestVersion != 0 || got.DeployedAt != nil ||
			!got.CreatedAt.Truncate(time.Microsecond).Equal(wf.CreatedAt.Truncate(time.Microsecond)) {
			t.Fatalf("stored = %+v\nwant %+v", got, wf)
		}

		// A caller-chosen id and creation time are kept.
		fixed := &store.Workflow{ID: "wf-fixed", WorkspaceID: ws.ID, Name: "fixed", CreatedAt: t0}
		if err := s.CreateWorkflow(ctx, fixed); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetWorkflow(ctx, "wf-fixed"); err != nil || !got.CreatedAt.Equal(t0) {
			t.Fatalf("fixed = %+v, %v", got, err)
		}

		for _, c := range []struct {
			name string
			wf   *store.Workflow
			want error
		}{
			{"empty name", &store.Workflow{WorkspaceID: ws.ID, Name: "   "}, store.ErrInvalid},
			{"unknown workspace", &store.Workflow{WorkspaceID: "no-such-ws", Name: "x"}, store.ErrNotFound},
			{"taken id", &store.Workflow{ID: "wf-fixed", WorkspaceID: ws.ID, Name: "again"}, store.ErrConflict},
		} {
			if err := s.CreateWorkflow(ctx, c.wf); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if got, _ := s.GetWorkflow(ctx, "wf-fixed"); got.Name != "fixed" {
			t.Errorf("a refused create changed the stored workflow: %+v", got)
		}
		if _, err := s.GetWorkflow(ctx, "no-such-wf"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get unknown: %v", err)
		}
		if wfs, _ := s.ListWorkflows(ctx, ws.ID); len(wfs) != 2 {
			t.Errorf("workflows after refused creates = %d, want 2", len(wfs))
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "wf-update@x.io")
		_, other := ownerAndWorkspace(t, s, "wf-update2@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "wf", Draft: json.RawMessage(`{"v":0}`), CreatedAt: t0}
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Deploy(ctx, wf.ID, json.RawMessage(`{"v":1}`), "u", ""); err != nil {
			t.Fatal(err)
		}
		before, _ := s.GetWorkflow(ctx, wf.ID)
		a0, w0 := s.AuthEpoch(), s.WorkflowEpoch()
		time.Sleep(2 * time.Millisecond)
		got, err := s.UpdateWorkflow(ctx, wf.ID, func(w *store.Workflow) error {
			w.Name, w.Description, w.Draft = " renamed ", "new", json.RawMessage(`{"v":2}`)
			// Fields the store owns: every one of these must be ignored.
			w.ID, w.WorkspaceID, w.CreatedAt = "other-id", other.ID, t0.Add(time.Hour)
			w.ActiveVersion, w.LatestVersion, w.DeployedAt = 7, 7, nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.WorkflowEpoch() == w0 {
			t.Error("update did not bump the workflow epoch")
		}
		if s.AuthEpoch() != a0 {
			t.Error("a draft update bumped the auth epoch")
		}
		stored, _ := s.GetWorkflow(ctx, wf.ID)
		for _, w := range []*store.Workflow{got, stored} {
			if w.ID != wf.ID || w.WorkspaceID != ws.ID || !w.CreatedAt.Equal(t0) || w.Name != "renamed" || w.Description != "new" ||
				string(w.Draft) != `{"v":2}` || w.ActiveVersion != 1 || w.LatestVersion != 1 || w.DeployedAt == nil ||
				!w.DeployedAt.Equal(*before.DeployedAt) || !w.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("after update = %+v (before %+v)", w, before)
			}
		}
		if _, err := s.GetWorkflow(ctx, "other-id"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update moved the workflow to a new id: %v", err)
		}
		if wfs, _ := s.ListWorkflows(ctx, other.ID); len(wfs) != 0 {
			t.Errorf("update moved the workflow to another workspace: %+v", wfs)
		}
		// The deployed version is immutable: a new draft does not touch it.
		if d, _ := s.GetDeployment(ctx, wf.ID, 1); d == nil || string(d.Definition) != `{"v":1}` {
			t.Errorf("version 1 after a draft update = %+v", d)
		}

		boom := errors.New("boom")
		for _, c := range []struct {
			name string
			id   string
			fn   func(*store.Workflow) error
			want error
		}{
			{"fn error", wf.ID, func(w *store.Workflow) error { w.Name = "lost"; return boom }, boom},
			{"empty name", wf.ID, func(w *store.Workflow) error { w.Name = " "; return nil }, store.ErrInvalid},
			{"unknown", "no-such-wf", func(*store.Workflow) error { return nil }, store.ErrNotFound},
		} {
			if _, err := s.UpdateWorkflow(ctx, c.id, c.fn); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if got, _ := s.GetWorkflow(ctx, wf.ID); got.Name != "renamed" {
			t.Errorf("a refused update was stored: %+v", got)
		}
	})

	t.Run("DeployVersions", func(t *testing.T) {
		s := open(t)
		u, ws := ownerAndWorkspace(t, s, "wf-deploy@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "wf", Draft: json.RawMessage(`{"a":1}`)}
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		a0 := s.AuthEpoch()
		for v := uint32(1); v <= 3; v++ {
			w0 := s.WorkflowEpoch()
			def := json.RawMessage(fmt.Sprintf(`{"v":%d}`, v))
			d, err := s.Deploy(ctx, wf.ID, def, u.ID, fmt.Sprintf("note %d", v))
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != v || d.WorkflowID != wf.ID || string(d.Definition) != string(def) || d.CreatedBy != u.ID ||
				d.Note != fmt.Sprintf("note %d", v) || d.CreatedAt.IsZero() {
				t.Fatalf("deploy %d = %+v", v, d)
			}
			if s.WorkflowEpoch() == w0 {
				t.Errorf("deploy %d did not bump the workflow epoch", v)
			}
			got, dep, err := s.ActiveDeployment(ctx, wf.ID)
			if err != nil || got.ActiveVersion != v || got.LatestVersion != v || got.DeployedAt == nil ||
				dep == nil || dep.Version != v || string(dep.Definition) != string(def) {
				t.Fatalf("active after deploy %d = %+v %+v %v", v, got, dep, err)
			}
		}
		if s.AuthEpoch() != a0 {
			t.Error("deploying bumped the auth epoch")
		}
		// Every version stays as it was deployed.
		for v := uint32(1); v <= 3; v++ {
			d, err := s.GetDeployment(ctx, wf.ID, v)
			if err != nil || d.Version != v || string(d.Definition) != fmt.Sprintf(`{"v":%d}`, v) || d.CreatedBy != u.ID {
				t.Errorf("version %d = %+v, %v", v, d, err)
			}
		}
		for _, c := range []struct {
			id string
			v  uint32
		}{{wf.ID, 0}, {wf.ID, 4}, {"no-such-wf", 1}} {
			if _, err := s.GetDeployment(ctx, c.id, c.v); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("get deployment %s v%d: %v", c.id, c.v, err)
			}
		}
		if _, err := s.Deploy(ctx, "no-such-wf", json.RawMessage(`{}`), u.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deploy unknown: %v", err)
		}
		if _, _, err := s.ActiveDeployment(ctx, "no-such-wf"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("active deployment of unknown: %v", err)
		}
		// The draft is not a deployment.
		if got, _ := s.GetWorkflow(ctx, wf.ID); string(got.Draft) != `{"a":1}` {
			t.Errorf("draft after deploys = %s", got.Draft)
		}
		// The reader lists versions oldest first.
		err := s.View(ctx, func(r store.Reader) error {
			deps, err := r.Deployments(wf.ID)
			if err != nil {
				return err
			}
			var vs []uint32
			for _, d := range deps {
				vs = append(vs, d.Version)
			}
			if !slices.Equal(vs, []uint32{1, 2, 3}) {
				t.Errorf("reader deployments = %v", vs)
			}
			if d, err := r.Deployment(wf.ID, 2); err != nil || string(d.Definition) != `{"v":2}` {
				t.Errorf("reader deployment 2 = %+v %v", d, err)
			}
			if _, err := r.Deployment(wf.ID, 9); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("reader deployment 9: %v", err)
			}
			if deps, err := r.Deployments("no-such-wf"); err != nil || len(deps) != 0 {
				t.Errorf("reader deployments of unknown = %v %v", deps, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RollbackAndUndeploy", func(t *testing.T) {
		s := open(t)
		u, ws := ownerAndWorkspace(t, s, "wf-rollback@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "wf"}
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= 3; v++ {
			if _, err := s.Deploy(ctx, wf.ID, json.RawMessage(fmt.Sprintf(`{"v":%d}`, v)), u.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		a0, w0 := s.AuthEpoch(), s.WorkflowEpoch()
		got, err := s.ActivateVersion(ctx, wf.ID, 1)
		if err != nil || got.ActiveVersion != 1 || got.LatestVersion != 3 || got.DeployedAt == nil {
			t.Fatalf("activate 1 = %+v, %v", got, err)
		}
		if s.WorkflowEpoch() == w0 || s.AuthEpoch() != a0 {
			t.Errorf("activate: workflow epoch %d→%d (want bumped), auth %d→%d (want kept)", w0, s.WorkflowEpoch(), a0, s.AuthEpoch())
		}
		got, dep, err := s.ActiveDeployment(ctx, wf.ID)
		if err != nil || got.ActiveVersion != 1 || dep == nil || string(dep.Definition) != `{"v":1}` {
			t.Fatalf("active after rollback = %+v %+v %v", got, dep, err)
		}
		for _, c := range []struct {
			id string
			v  uint32
		}{{wf.ID, 0}, {wf.ID, 9}, {"no-such-wf", 1}} {
			if _, err := s.ActivateVersion(ctx, c.id, c.v); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("activate %s v%d: %v", c.id, c.v, err)
			}
		}
		if got, _ := s.GetWorkflow(ctx, wf.ID); got.ActiveVersion != 1 {
			t.Errorf("a refused activate changed the active version: %d", got.ActiveVersion)
		}
		// A rollback does not reuse numbers: the next deploy is 4.
		d4, err := s.Deploy(ctx, wf.ID, json.RawMessage(`{"v":4}`), u.ID, "")
		if err != nil || d4.Version != 4 {
			t.Fatalf("deploy after rollback = %+v, %v", d4, err)
		}

		w0 = s.WorkflowEpoch()
		got, err = s.Undeploy(ctx, wf.ID)
		if err != nil || got.IsDeployed() || got.DeployedAt != nil || got.LatestVersion != 4 {
			t.Fatalf("undeploy = %+v, %v", got, err)
		}
		if s.WorkflowEpoch() == w0 {
			t.Error("undeploy did not bump the workflow epoch")
		}
		got, dep, err = s.ActiveDeployment(ctx, wf.ID)
		if err != nil || got == nil || got.IsDeployed() || dep != nil {
			t.Fatalf("active after undeploy = %+v %+v %v", got, dep, err)
		}
		if d, err := s.GetDeployment(ctx, wf.ID, 2); err != nil || string(d.Definition) != `{"v":2}` {
			t.Errorf("versions stay stored after undeploy: %+v %v", d, err)
		}
		if _, err := s.Undeploy(ctx, "no-such-wf"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("undeploy unknown: %v", err)
		}
		// Activating a stored version redeploys it.
		if got, err := s.ActivateVersion(ctx, wf.ID, 2); err != nil || got.ActiveVersion != 2 || got.DeployedAt == nil {
			t.Fatalf("activate after undeploy = %+v, %v", got, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		u, ws := ownerAndWorkspace(t, s, "wf-delete@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "gone"}
		keep := &store.Workflow{WorkspaceID: ws.ID, Name: "kept"}
		for _, w := range []*store.Workflow{wf, keep} {
			if err := s.CreateWorkflow(ctx, w); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Deploy(ctx, w.ID, json.RawMessage(`{"v":1}`), u.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		a0, w0 := s.AuthEpoch(), s.WorkflowEpoch()
		if err := s.DeleteWorkflow(ctx, wf.ID); err != nil {
			t.Fatal(err)
		}
		if s.AuthEpoch() == a0 || s.WorkflowEpoch() == w0 {
			t.Errorf("delete: auth %d→%d workflows %d→%d, want both bumped", a0, s.AuthEpoch(), w0, s.WorkflowEpoch())
		}
		if _, err := s.GetWorkflow(ctx, wf.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted: %v", err)
		}
		if _, err := s.GetDeployment(ctx, wf.ID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("version of a deleted workflow: %v", err)
		}
		if err := s.DeleteWorkflow(ctx, wf.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		wfs, err := s.ListWorkflows(ctx, ws.ID)
		if err != nil || len(wfs) != 1 || wfs[0].ID != keep.ID {
			t.Errorf("after delete = %+v %v", wfs, err)
		}
		if d, err := s.GetDeployment(ctx, keep.ID, 1); err != nil || d.Version != 1 {
			t.Errorf("another workflow's version after delete = %+v %v", d, err)
		}
		// The id may be used again and starts from version 1.
		again := &store.Workflow{ID: wf.ID, WorkspaceID: ws.ID, Name: "again"}
		if err := s.CreateWorkflow(ctx, again); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Deploy(ctx, wf.ID, json.RawMessage(`{"v":"new"}`), u.ID, ""); err != nil || d.Version != 1 {
			t.Errorf("deploy of a recreated id = %+v %v", d, err)
		}
	})

	t.Run("DeleteDropsGrants", func(t *testing.T) {
		s := open(t)
		u, ws, org := orgWorkspace(t, s, "wf-grants@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "granted"}
		other := &store.Workflow{WorkspaceID: ws.ID, Name: "other"}
		for _, w := range []*store.Workflow{wf, other} {
			if err := s.CreateWorkflow(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		k := &store.APIKey{Type: store.KeyOrganization, OrgID: org.ID, Name: "org key", CreatedBy: u.ID, Suffix: "abcd",
			Digest: []byte("digest-wf-grants"), Ciphertext: []byte("sealed"),
			Grants: []store.Grant{
				{TargetType: store.TargetWorkflow, TargetID: wf.ID, Level: store.LevelRead},
				{TargetType: store.TargetWorkflow, TargetID: other.ID, Level: store.LevelWrite},
			}}
		wantErr(t, "create org key", s.CreateKey(ctx, k), nil)
		if err := s.DeleteWorkflow(ctx, wf.ID); err != nil {
			t.Fatal(err)
		}
		err := s.View(ctx, func(r store.Reader) error {
			if ids, err := r.KeysTargeting(wf.ID); err != nil || len(ids) != 0 {
				t.Errorf("keys targeting the deleted workflow = %v %v", ids, err)
			}
			if ids, err := r.KeysTargeting(other.ID); err != nil || !slices.Equal(ids, []string{k.ID}) {
				t.Errorf("keys targeting the other workflow = %v %v", ids, err)
			}
			gs, err := r.Grants(k.ID)
			if err != nil || len(gs) != 1 || gs[0].TargetID != other.ID {
				t.Errorf("grants after delete = %+v %v", gs, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ListingOrder", func(t *testing.T) {
		s := open(t)
		_, ws1 := ownerAndWorkspace(t, s, "wf-list1@x.io")
		_, ws2 := ownerAndWorkspace(t, s, "wf-list2@x.io")
		// Created out of id order: lists follow ids (time-ordered ULIDs when the store mints them).
		ids := []string{"wf-c", "wf-a", "wf-b", "wf-B", "wf-a2"}
		wsOf := map[string]string{"wf-c": ws1.ID, "wf-a": ws1.ID, "wf-b": ws2.ID, "wf-B": ws1.ID, "wf-a2": ws2.ID}
		for _, id := range ids {
			if err := s.CreateWorkflow(ctx, &store.Workflow{ID: id, WorkspaceID: wsOf[id], Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		minted := &store.Workflow{WorkspaceID: ws1.ID, Name: "minted"}
		if err := s.CreateWorkflow(ctx, minted); err != nil {
			t.Fatal(err)
		}
		wfIDs := func(wfs []*store.Workflow) []string {
			var out []string
			for _, w := range wfs {
				out = append(out, w.ID)
			}
			return out
		}
		all := []string{minted.ID, "wf-B", "wf-a", "wf-a2", "wf-b", "wf-c"}
		slices.Sort(all) // byte order, as bbolt keys sort
		in1 := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id != minted.ID && wsOf[id] != ws1.ID })
		if wfs, err := s.ListWorkflows(ctx, ""); err != nil || !slices.Equal(wfIDs(wfs), all) {
			t.Errorf("list all = %v %v, want %v", wfIDs(wfs), err, all)
		}
		if wfs, err := s.ListWorkflows(ctx, ws1.ID); err != nil || !slices.Equal(wfIDs(wfs), in1) {
			t.Errorf("list ws1 = %v %v, want %v", wfIDs(wfs), err, in1)
		}
		if wfs, err := s.ListWorkflows(ctx, "no-such-ws"); err != nil || len(wfs) != 0 {
			t.Errorf("list unknown workspace = %v %v", wfIDs(wfs), err)
		}
		err := s.View(ctx, func(r store.Reader) error {
			if wfs, err := r.Workflows(); err != nil || !slices.Equal(wfIDs(wfs), all) {
				t.Errorf("reader workflows = %v %v", wfIDs(wfs), err)
			}
			if got, err := r.WorkspaceWorkflowIDs(ws1.ID); err != nil || !slices.Equal(got, in1) {
				t.Errorf("reader workspace ids = %v %v, want %v", got, err, in1)
			}
			if wfs, err := r.WorkspaceWorkflows(ws2.ID); err != nil || !slices.Equal(wfIDs(wfs), []string{"wf-a2", "wf-b"}) {
				t.Errorf("reader workspace workflows = %v %v", wfIDs(wfs), err)
			}
			if w, err := r.Workflow("wf-a"); err != nil || w.Name != "wf-a" || w.WorkspaceID != ws1.ID {
				t.Errorf("reader workflow = %+v %v", w, err)
			}
			if _, err := r.Workflow("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("reader unknown workflow: %v", err)
			}
			if got, err := r.WorkspaceWorkflowIDs("no-such-ws"); err != nil || len(got) != 0 {
				t.Errorf("reader ids of unknown workspace = %v %v", got, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ViewIsOneSnapshot", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "wf-snap@x.io")
		if err := s.CreateWorkflow(ctx, &store.Workflow{WorkspaceID: ws.ID, Name: "first"}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		err := s.View(ctx, func(r store.Reader) error {
			before, err := r.WorkspaceWorkflowIDs(ws.ID)
			if err != nil {
				return err
			}
			go func() { done <- s.CreateWorkflow(ctx, &store.Workflow{WorkspaceID: ws.ID, Name: "second"}) }()
			// bbolt lets a writer commit beside a reader (unless it must grow the file); a
			// backend may also make it wait for the read to end. Either way the read keeps
			// its snapshot.
			select {
			case err := <-done:
				done <- err
			case <-time.After(200 * time.Millisecond):
			}
			after, err := r.Workflows()
			if err != nil {
				return err
			}
			if len(before) != 1 || len(after) != 1 {
				t.Errorf("one view saw %d then %d workflows", len(before), len(after))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if wfs, _ := s.ListWorkflows(ctx, ws.ID); len(wfs) != 2 {
			t.Errorf("after the view: %d workflows, want 2", len(wfs))
		}
	})

	t.Run("ConcurrentDeploys", func(t *testing.T) {
		s := open(t)
		u, ws := ownerAndWorkspace(t, s, "wf-race@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "raced"}
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		versions := make(chan uint32, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := s.Deploy(ctx, wf.ID, json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), u.ID, "")
				if err != nil {
					t.Error(err)
					return
				}
				versions <- d.Version
			}()
		}
		wg.Wait()
		close(versions)
		var got []uint32
		for v := range versions {
			got = append(got, v)
		}
		slices.Sort(got)
		want := make([]uint32, n)
		for i := range want {
			want[i] = uint32(i + 1)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("concurrent deploys got versions %v, want %v", got, want)
		}
		w, err := s.GetWorkflow(ctx, wf.ID)
		if err != nil || w.LatestVersion != n || w.ActiveVersion == 0 {
			t.Fatalf("after concurrent deploys = %+v %v", w, err)
		}
		// Each stored version holds the definition its deploy returned.
		for v := uint32(1); v <= n; v++ {
			if d, err := s.GetDeployment(ctx, wf.ID, v); err != nil || !strings.HasPrefix(string(d.Definition), `{"i":`) {
				t.Errorf("version %d = %+v %v", v, d, err)
			}
		}
	})
}

// ownerAndWorkspace creates a user (email) and a workspace they own, through the store.
func ownerAndWorkspace(t *testing.T, s store.Store, email string) (*store.User, *store.Workspace) {
	t.Helper()
	u := mustUser(t, s, email)
	ws := store.NewWorkspace("ws of "+email, u.ID, "")
	wantErr(t, "create workspace", s.CreateWorkspace(ctx, ws), nil)
	return u, ws
}

// orgWorkspace creates a user owning an organization with one workspace in it.
func orgWorkspace(t *testing.T, s store.Store, email string) (*store.User, *store.Workspace, *store.Org) {
	t.Helper()
	u := mustUser(t, s, email)
	org := &store.Org{Name: "org of " + email}
	wantErr(t, "create org", s.CreateOrg(ctx, org, u.ID), nil)
	ws := store.NewWorkspace("ws of "+email, u.ID, org.ID)
	wantErr(t, "create workspace", s.CreateWorkspace(ctx, ws), nil)
	return u, ws, org
}
