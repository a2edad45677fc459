package embed

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Paused runs of a workflow and the page a person answers a human_in_the_loop block
// on: what the block shows (its builderData as rendered when the run paused) and a form
// built from its inputFormat. Reading needs read on the workflow, answering write; both
// are core's decisions (HumanPause, Resume), as through the API.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/workflows/{wf}/paused", func(d *Dashboard) handlerFunc { return d.pausedRuns })
	addRoute("GET /dashboard/workspaces/{ws}/workflows/{wf}/paused/{exec}/{ctx}", func(d *Dashboard) handlerFunc { return d.resumePage })
	addRoute("POST /dashboard/workspaces/{ws}/workflows/{wf}/paused/{exec}/{ctx}", func(d *Dashboard) handlerFunc { return d.resumeSubmit })
	addRoute("GET /dashboard/resume/{wf}/{exec}", func(d *Dashboard) handlerFunc { return d.resumeLink })
}

// ResumePath is the dashboard page for a person holding a paused run's uiUrl (which
// names a workflow and an execution, not a workspace): it leads to the run's approval
// form, through the login page when there is no session.
func ResumePath(wfID, execID string) string {
	return "/dashboard/resume/" + url.PathEscape(wfID) + "/" + url.PathEscape(execID)
}

func workflowPath(wsID, wfID string) string {
	return "/dashboard/workspaces/" + url.PathEscape(wsID) + "/workflows/" + url.PathEscape(wfID)
}

func resumePagePath(wsID, wfID, execID, ctxID string) string {
	return workflowPath(wsID, wfID) + "/paused/" + url.PathEscape(execID) + "/" + url.PathEscape(ctxID)
}

func logPath(wsID, execID string) string {
	return "/dashboard/workspaces/" + url.PathEscape(wsID) + "/logs/" + url.PathEscape(execID)
}

type pausedRow struct {
	Run     *store.PausedRun
	LogLink string
	Points  []pointRow
}

type pointRow struct {
	store.PausePoint
	Link string // the resume page (human pause points)
}

type pausedData struct {
	Workflow *store.Workflow
	Runs     []pausedRow
}

func (d *Dashboard) pausedRuns(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	list, err := d.deps.Service.PausedRuns(r.Context(), v.P, wf.ID)
	if err != nil {
		return hiddenAsNotFound(err)
	}
	data := &pausedData{Workflow: wf}
	for i := len(list) - 1; i >= 0; i-- { // newest first, as the logs
		pr := list[i]
		row := pausedRow{Run: pr, LogLink: logPath(ws.Workspace.ID, pr.ExecutionID)}
		for _, pt := range pr.PausePoints {
			point := pointRow{PausePoint: pt}
			if pt.Kind == store.PauseHuman {
				point.Link = resumePagePath(ws.Workspace.ID, wf.ID, pr.ExecutionID, pt.ContextID)
			}
			row.Points = append(row.Points, point)
		}
		data.Runs = append(data.Runs, row)
	}
	pg := v.wsPage(ws, "Paused runs · "+wf.Name, "workflows")
	pg.Data = data
	d.render(w, r, "paused", http.StatusOK, pg)
	return nil
}

type displayRow struct {
	Name, Type, Value string
}

type resumeInput struct {
	core.ResumeField
	ID      string
	Control string // text, number, checkbox, json
	Text    string // the value the form shows
}

type resumeData struct {
	Workflow    *store.Workflow
	ExecutionID string
	Point       store.PausePoint
	Resuming    bool // another answer is being processed
	Display     []displayRow
	Inputs      []resumeInput
	CanResume   bool
	Action      string
	LogLink     string
	PausedLink  string
	FormError   string
	Gone        string // the run no longer waits here
	Outcome     *store.Execution
	Output      string
}

// resumeView is what a post adds to the resume page it answers with.
type resumeView struct {
	values  map[string]string
	formErr string
	outcome *store.Execution
}

func (d *Dashboard) resumePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.renderResume(w, r, v, http.StatusOK, resumeView{})
}

// renderResume shows the pause point of the path: its display data and form, the
// outcome of an answer, or why it cannot be answered any more.
func (d *Dashboard) renderResume(w http.ResponseWriter, r *http.Request, v *visit, status int, rv resumeView) error {
	ws, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	execID, ctxID := r.PathValue("exec"), r.PathValue("ctx")
	data := &resumeData{Workflow: wf, ExecutionID: execID, Action: resumePagePath(ws.Workspace.ID, wf.ID, execID, ctxID),
		LogLink: logPath(ws.Workspace.ID, execID), PausedLink: workflowPath(ws.Workspace.ID, wf.ID) + "/paused"}
	pg := v.wsPage(ws, "Approval · "+wf.Name, "workflows")
	pg.Data = data
	if rv.outcome != nil {
		data.Outcome, data.Output = rv.outcome, prettyJSON(rv.outcome.Output)
		d.render(w, r, "resume", status, pg)
		return nil
	}
	hp, err := d.deps.Service.HumanPause(r.Context(), v.P, wf.ID, execID, ctxID)
	if alreadyAnswered(err) {
		data.Gone = "This approval was already answered, or its run was cancelled: it no longer waits for an answer. The run's log shows what happened."
		d.render(w, r, "resume", status, pg)
		return nil
	}
	if err != nil {
		return hiddenAsNotFound(err)
	}
	data.Point, data.Resuming = hp.Point, hp.Run.Status == store.PausedResuming
	// A hint only: the post asks core, which refuses readers with 403.
	data.CanResume = ws.Level != store.LevelRead
	data.FormError = rv.formErr
	for _, f := range hp.Display {
		data.Display = append(data.Display, displayRow{Name: f.Name, Type: f.Type, Value: formValue(f.Value)})
	}
	for i, f := range hp.Fields {
		in := resumeInput{ResumeField: f, ID: fmt.Sprintf("resume-field-%d", i), Control: control(f.Type)}
		if f.Value != nil {
			in.Text = formValue(f.Value)
		}
		if rv.values != nil {
			in.Text = rv.values[f.Name]
		}
		data.Inputs = append(data.Inputs, in)
	}
	d.render(w, r, "resume", status, pg)
	return nil
}

// resumeSubmit answers the pause point with the form's values as the signed-in user:
// the run continues and the page shows how it ended (completed, failed, or paused at
// its next pause point).
func (d *Dashboard) resumeSubmit(w http.ResponseWriter, r *http.Request, v *visit) error {
	_, wf, err := v.workflowOf(r)
	if err != nil {
		return err
	}
	execID, ctxID := r.PathValue("exec"), r.PathValue("ctx")
	hp, err := d.deps.Service.HumanPause(r.Context(), v.P, wf.ID, execID, ctxID)
	if alreadyAnswered(err) {
		return d.renderResume(w, r, v, http.StatusConflict, resumeView{})
	}
	if err != nil {
		return hiddenAsNotFound(err)
	}
	input := map[string]any{}
	values := map[string]string{}
	for _, f := range hp.Fields {
		values[f.Name] = r.PostFormValue("in_" + f.Name) // shown again if one is refused
	}
	for _, f := range hp.Fields {
		raw := values[f.Name]
		if f.Required && control(f.Type) != "checkbox" && strings.TrimSpace(raw) == "" {
			return d.renderResume(w, r, v, http.StatusBadRequest, resumeView{values: values, formErr: f.Label + " is required"})
		}
		val, set, err := parseInput(engine.InputField{Name: f.Label, Type: f.Type, HasDefault: f.Value != nil}, raw)
		if err != nil {
			return d.renderResume(w, r, v, http.StatusBadRequest, resumeView{values: values, formErr: err.Error()})
		}
		if set {
			input[f.Name] = val
		}
	}
	run, err := d.deps.Service.Resume(r.Context(), v.P, core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: execID,
		ContextID: ctxID, Input: input, BaseURL: d.baseURL(r)})
	switch {
	case alreadyAnswered(err):
		return d.renderResume(w, r, v, http.StatusConflict, resumeView{})
	case err != nil:
		status, msg := describe(err)
		if status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge {
			return d.renderResume(w, r, v, status, resumeView{values: values, formErr: msg})
		}
		return err
	}
	return d.renderResume(w, r, v, http.StatusOK, resumeView{outcome: run.Execution})
}

// alreadyAnswered reports core's answers for a pause point that no longer waits: taken
// by another answer (already_resumed), or its run has gone on (not_resumable).
func alreadyAnswered(err error) bool {
	var ce *core.Error
	return errors.As(err, &ce) && ce.Status == http.StatusConflict && (ce.Code == "already_resumed" || ce.Code == "not_resumable")
}

// resumeLink is where a paused run's uiUrl leads a browser (see ResumePath): the one
// human pause point's page, the workflow's paused runs when it waits at several, or
// its log once it no longer waits.
func (d *Dashboard) resumeLink(w http.ResponseWriter, r *http.Request, v *visit) error {
	ctx := r.Context()
	wf, err := d.deps.Service.GetWorkflow(ctx, v.P, r.PathValue("wf"))
	if err != nil {
		return hiddenAsNotFound(err)
	}
	execID := r.PathValue("exec")
	pr, err := d.deps.Service.PausedRun(ctx, v.P, wf.ID, execID)
	if isStatus(err, http.StatusNotFound) {
		if exec, lerr := d.deps.Service.GetLog(ctx, v.P, execID); lerr == nil && exec.WorkflowID == wf.ID {
			redirect(w, r, logPath(wf.WorkspaceID, execID), "already-resumed")
			return nil
		}
	}
	if err != nil {
		return hiddenAsNotFound(err)
	}
	var human []store.PausePoint
	for _, pt := range pr.PausePoints {
		if pt.Kind == store.PauseHuman {
			human = append(human, pt)
		}
	}
	target := workflowPath(wf.WorkspaceID, wf.ID) + "/paused"
	if len(human) == 1 {
		target = resumePagePath(wf.WorkspaceID, wf.ID, execID, human[0].ContextID)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}
