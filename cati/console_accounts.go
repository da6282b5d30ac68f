package cati

// This file is the accounts section of the admin page: an admin adds
// accounts, changes their role, resets their password and disables them,
// each audit-logged; the rules for names and passwords are survey's, as on
// the command line.

import (
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/survey"
)

// accountRoles are the roles a console account may have.
var accountRoles = []survey.Role{survey.RoleInterviewer, survey.RoleSupervisor, survey.RoleAdmin, survey.RoleManager}

// newPassword checks a password typed twice and hashes it.
func newPassword(password, again string) ([]byte, error) {
	if err := survey.CheckPassword(password); err != nil {
		return nil, err
	}
	if password != again {
		return nil, survey.Errorf(survey.EInvalid, "the two passwords differ")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func role(v string) (survey.Role, error) {
	r := survey.Role(v)
	if !slices.Contains(accountRoles, r) {
		return "", survey.Errorf(survey.EInvalid, "role must be interviewer, supervisor or admin, not %q", survey.Clip(v, 20))
	}
	return r, nil
}

// addAccount creates an account from the admin page.
func (s *Server) addAccount(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := r.PostForm
	name := f.Get("name")
	err := survey.CheckUserName(name)
	var rl survey.Role
	if err == nil {
		rl, err = role(f.Get("role"))
	}
	var hash []byte
	if err == nil {
		hash, err = newPassword(f.Get("password"), f.Get("password2"))
	}
	if err == nil {
		err = s.console.Accounts.AddAccount(r.Context(), name, rl, hash, sess.Name)
	}
	if err != nil {
		return s.adminRefused(w, r, sess, err, map[string]string{"name": name, "role": f.Get("role")})
	}
	s.consoleLog(sess.User).Info("account added", "account", name, "role", rl)
	http.Redirect(w, r, "/admin?done="+urlQuery("Account "+name+" added as "+string(rl)+".")+"#accounts", http.StatusSeeOther)
	return nil
}

// updateAccount changes a role, resets a password, or disables or enables
// an account.
func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := r.PostForm
	name := r.PathValue("name")
	var (
		ch   survey.AccountChange
		done string
		err  error
	)
	switch f.Get("action") {
	case "role":
		var rl survey.Role
		if rl, err = role(f.Get("role")); err == nil {
			ch.Role, done = &rl, name+" is now "+string(rl)+"."
		}
	case "password":
		if ch.PasswordHash, err = newPassword(f.Get("password"), f.Get("password2")); err == nil {
			done = "The password of " + name + " is reset; their sessions are ended."
		}
	case "disable", "enable":
		off := f.Get("action") == "disable"
		ch.Disabled = &off
		done = name + " is " + f.Get("action") + "d."
	default:
		err = survey.Errorf(survey.EInvalid, "unknown account action %q", survey.Clip(f.Get("action"), 20))
	}
	if err == nil {
		err = s.console.Accounts.UpdateAccount(r.Context(), name, ch, sess.Name)
	}
	if err != nil {
		return s.adminRefused(w, r, sess, err, nil)
	}
	s.consoleLog(sess.User).Info("account changed", "account", name, "action", f.Get("action"))
	http.Redirect(w, r, "/admin?done="+urlQuery(done)+"#accounts", http.StatusSeeOther)
	return nil
}

// adminRefused shows the admin page again with why a change was refused;
// kept holds what the add form had (never a password).
func (s *Server) adminRefused(w http.ResponseWriter, r *http.Request, sess *session, err error, kept map[string]string) error {
	if code := survey.ErrorCodeOf(err); code != survey.EInvalid && code != survey.EConflict && code != survey.ENotFound {
		return err
	}
	d, derr := s.adminData(r)
	if derr != nil {
		return derr
	}
	d.NewAccount = kept
	s.render(w, r, http.StatusBadRequest, "admin", pageData{Title: "Administration", Session: sess, Data: d, Error: survey.ErrorMessage(err)})
	return nil
}
