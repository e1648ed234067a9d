package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
)

type uploadData struct {
	FileName string
	Errors   pipeline.ErrorList
	Problem  string
	TooLarge bool
	Result   *control.UploadResult
	Limit    int
}

// Hash is the short hash of the uploaded version.
func (d *uploadData) Hash() string { return shortHash(d.Result.Pipeline.Hash()) }

func (w *Web) uploadPage(rw http.ResponseWriter, r *http.Request) error {
	return w.render(rw, http.StatusOK, "upload", w.newView(r, "Upload a pipeline", "upload", &uploadData{Limit: control.MaxUpload}))
}

func (w *Web) uploadPost(rw http.ResponseWriter, r *http.Request) error {
	d := &uploadData{Limit: control.MaxUpload}
	st := w.upload(r, d)
	v := w.newView(r, "Upload a pipeline", "upload", d)
	if isHTMX(r) {
		return w.fragment(rw, st, "upload-result", v)
	}
	return w.render(rw, st, "upload", v)
}

// upload stores the posted file, filling d with the outcome, and returns
// the response status.
func (w *Web) upload(r *http.Request, d *uploadData) int {
	ctx := r.Context()
	if r.MultipartForm == nil {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				d.TooLarge = true
				d.Problem = fmt.Sprintf("file too large: a pipeline file may have at most %d bytes", control.MaxUpload)
				return http.StatusRequestEntityTooLarge
			}
			d.Problem = "The form could not be read: send it as multipart/form-data with the file in the field \"file\"."
			return http.StatusBadRequest
		}
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		d.Problem = "Choose a pipeline file (.yaml or .yml) to upload."
		return http.StatusBadRequest
	}
	defer f.Close()
	name := hdr.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:] // some browsers send the path
	}
	d.FileName = name
	src, err := io.ReadAll(io.LimitReader(f, control.MaxUpload+1))
	if err != nil {
		d.Problem = "The file could not be read; try again."
		return http.StatusBadRequest
	}
	res, err := w.ctl.Upload(ctx, name, src, auth.FromContext(ctx).Name)
	if err == nil {
		d.Result = res
		return http.StatusOK
	}
	var se *sluice.Error
	if !errors.As(err, &se) {
		w.log.Error("upload failed", "file", name, "err", err)
		d.Problem = "The server could not store the pipeline; the error is in its log."
		return http.StatusInternalServerError
	}
	d.Problem = se.Message
	if list, ok := se.Details.(pipeline.ErrorList); ok {
		d.Errors = list
		d.Problem = fmt.Sprintf("%s has %d %s; nothing was stored.", name, len(list), pluralWord(len(list), "error", "errors"))
	}
	if se.Code == sluice.ETOOLARGE {
		d.TooLarge = true
		d.Problem = "file too large: " + se.Message
	}
	if se.Code == sluice.EINVALID {
		return http.StatusUnprocessableEntity
	}
	return status(se.Code)
}
