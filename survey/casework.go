package survey

// This file is the casework rules, each once: how an interviewer's desk
// moves, what a dial outcome records, how a wrap-up or a supervisor settles a
// case (its final disposition from every attempt, AAPOR's ranking), and which
// outcomes a case never dialed may take. The console applies them to a
// person's clicks, the dialer to what the network says, and the store only
// stores what they decided.

import (
	"slices"
	"strings"
	"time"
)

// DeskState is what an interviewer is doing (CHECK constraint in sql).
type DeskState string

// Desk states.
const (
	DeskSignedOut    DeskState = "signed_out" // not at the console
	DeskIdle         DeskState = "idle"       // signed in, ready for a case
	DeskBreak        DeskState = "break"      // signed in, pausing (with a reason)
	DeskOnCase       DeskState = "on_case"
	DeskDialing      DeskState = "dialing"
	DeskInterviewing DeskState = "interviewing"
	DeskWrapUp       DeskState = "wrap_up"
)

// Text is the state as people read it ("on case").
func (s DeskState) Text() string { return strings.ReplaceAll(string(s), "_", " ") }

// DeskMove is a step that moves a desk.
type DeskMove string

// Desk moves.
const (
	MoveClaim    DeskMove = "claim"    // take the next due case (or be given one)
	MoveDial     DeskMove = "dial"     // place the call: a new attempt
	MoveConnect  DeskMove = "connect"  // the respondent answered: the interview starts or resumes
	MoveStep     DeskMove = "step"     // answer, skip or back up
	MoveComplete DeskMove = "complete" // the interview ended complete
	MoveEndCall  DeskMove = "end_call" // the call ended before the interview did
	MoveWrapUp   DeskMove = "wrap_up"  // settle the case and free the desk
	MoveFree     DeskMove = "free"     // a supervisor took the case away
	MoveSignIn   DeskMove = "sign_in"  // opened the console
	MoveSignOut  DeskMove = "sign_out" // left it (logout, or the session ended)
	MoveBreak    DeskMove = "break"    // a pause, with a reason
	MoveResume   DeskMove = "resume"   // back from the pause
)

// deskMoves: from which states each move starts, and where it leads.
var deskMoves = map[DeskMove]struct {
	from []DeskState
	to   DeskState
}{
	MoveClaim:    {[]DeskState{DeskIdle}, DeskOnCase},
	MoveDial:     {[]DeskState{DeskOnCase}, DeskDialing},
	MoveConnect:  {[]DeskState{DeskDialing}, DeskInterviewing},
	MoveStep:     {[]DeskState{DeskInterviewing}, DeskInterviewing},
	MoveComplete: {[]DeskState{DeskInterviewing}, DeskWrapUp},
	MoveEndCall:  {[]DeskState{DeskOnCase, DeskDialing, DeskInterviewing}, DeskWrapUp},
	MoveWrapUp:   {[]DeskState{DeskOnCase, DeskDialing, DeskInterviewing, DeskWrapUp}, DeskIdle},
	MoveFree:     {[]DeskState{DeskIdle, DeskOnCase, DeskDialing, DeskInterviewing, DeskWrapUp}, DeskIdle},
	MoveSignIn:   {[]DeskState{DeskSignedOut}, DeskIdle},
	MoveSignOut:  {[]DeskState{DeskIdle, DeskBreak}, DeskSignedOut}, // a desk on a case keeps it
	MoveBreak:    {[]DeskState{DeskIdle}, DeskBreak},
	MoveResume:   {[]DeskState{DeskBreak}, DeskIdle},
}

// OnCase reports whether a desk in state s holds a case.
func (s DeskState) OnCase() bool {
	return s == DeskOnCase || s == DeskDialing || s == DeskInterviewing || s == DeskWrapUp
}

// BreakReasons are the pauses an interviewer may take.
func BreakReasons() []string {
	return []string{"lunch", "coffee", "meeting", "training", "technical", "other"}
}

// Can reports whether move m may start from s.
func (s DeskState) Can(m DeskMove) bool { return slices.Contains(deskMoves[m].from, s) }

// To is the state move m leads to.
func (m DeskMove) To() DeskState { return deskMoves[m].to }

// From lists the states move m may start from.
func (m DeskMove) From() []DeskState { return slices.Clone(deskMoves[m].from) }

// DialOutcome is what happened on the line when a case was dialed: as the
// network reported it to a telephony adapter (ivr's DialResult), or as an
// interviewer recorded it. One set, so that each outcome records one AAPOR
// code whoever saw it.
type DialOutcome string

// Dial outcomes.
const (
	DialAnswered         DialOutcome = "answered" // the network: someone or something answered
	DialContact          DialOutcome = "contact"  // an interviewer: the respondent is on the line
	DialNoAnswer         DialOutcome = "no_answer"
	DialBusy             DialOutcome = "busy"
	DialAnsweringMachine DialOutcome = "answering_machine"
	DialMachineMessage   DialOutcome = "machine_message"
	DialFax              DialOutcome = "fax"
	DialNotWorking       DialOutcome = "not_working" // an invalid or unallocated number
	DialTechnical        DialOutcome = "technical"   // the call failed for another reason
	DialRejected         DialOutcome = "rejected"    // declined by the network or the line (call blocking)
	DialCancelled        DialOutcome = "cancelled"   // we gave up before an answer: no result
)

// dialOutcomes maps each outcome to the AAPOR code its attempt records (""
// when the call connected, and the interview decides, or when there is no
// result) and its label; offered marks those an interviewer picks from, in
// the order they are offered.
var dialOutcomes = []struct {
	o       DialOutcome
	code    DispositionCode
	label   string
	offered bool
}{
	{DialContact, "", "Contact — respondent on the line", true},
	{DialNoAnswer, CodeNoAnswer, "No answer", true},
	{DialBusy, CodeBusy, "Busy", true},
	{DialAnsweringMachine, CodeAnsweringMachine, "Answering machine", true},
	{DialMachineMessage, "2.221", "Machine, household confirmed, message left", true},
	{DialFax, CodeFaxLine, "Fax or data line", true},
	{DialNotWorking, CodeNonWorking, "Non-working number", true},
	{DialTechnical, "3.16", "Technical phone problem", true},
	{DialAnswered, "", "Answered", false},
	{DialRejected, "3.15", "Call blocked", false},
	{DialCancelled, "", "Cancelled before an answer", false},
}

// DialOutcomes lists the outcomes in the order an interviewer is offered them.
func DialOutcomes() []DialOutcome {
	var out []DialOutcome
	for _, d := range dialOutcomes {
		if d.offered {
			out = append(out, d.o)
		}
	}
	return out
}

// Code is the AAPOR disposition the outcome records on its attempt; "" for a
// contact, and ok is false for an unknown outcome.
func (o DialOutcome) Code() (code DispositionCode, ok bool) {
	for _, d := range dialOutcomes {
		if d.o == o {
			return d.code, true
		}
	}
	return "", false
}

// Label is the outcome as an interviewer reads it.
func (o DialOutcome) Label() string {
	for _, d := range dialOutcomes {
		if d.o == o {
			return d.label
		}
	}
	return string(o)
}

// RecordCodes are the dispositions a case may take without being dialed,
// because its record can show them: the contact is out of the sample, its
// quota cell is full, or another reason, given in the note, makes it not
// eligible. Every other code is what a call found; recorded without one it
// would count no attempt, and a case put back in the queue would return
// forever, never reaching the campaign's maximum.
func RecordCodes() []DispositionCode { return []DispositionCode{"4.10", "4.80", "4.90"} }

// IsRecordCode reports whether code may be recorded without a call.
func IsRecordCode(code DispositionCode) bool { return slices.Contains(RecordCodes(), code) }

// NotDialed refuses a call outcome on a case that was not dialed.
func NotDialed(code DispositionCode) error {
	what := "that outcome"
	if d, ok := LookupDisposition(code); ok {
		what = string(d.Code) + " " + d.Label
	}
	return Errorf(EInvalid, "dial the number first: %s is what a call finds, and this case was not dialed "+
		"(without a call only 4.10 Out of sample, 4.80 Quota filled or 4.90 Other not eligible can be recorded, or a call back booked)",
		Clip(what, 80))
}

// Verdict is how a case's interview ends, or ended: complete, partial or
// break-off. One still in progress ends as the engine says: complete only
// when every question was asked (it stopped at a closing statement).
func Verdict(iv *Interview, status Status) Status {
	if status != StatusInProgress {
		return status
	}
	if iv == nil {
		return StatusBreakoff
	}
	return iv.Outcome()
}

// ClosingCodes is the rule for the codes a case's final disposition is
// settled from, when an attempt (or a supervisor) ends it with code: a
// complete interview makes it 1.1 whatever was picked; a picked 1.2 or 2.12
// follows the interview's verdict v; and an interview with enough answers
// adds a 1.2, which FinalDisposition then ranks above a refusal picked to end
// the call. It returns the attempt's code and the codes to rank: every
// earlier attempt's, then these.
func ClosingCodes(history []Attempt, v Status, code DispositionCode) (DispositionCode, []DispositionCode) {
	switch {
	case v == StatusComplete:
		code = CodeComplete
	case code == CodePartial || code == CodeBreakoff:
		switch v {
		case StatusPartial:
			code = CodePartial
		case StatusBreakoff:
			code = CodeBreakoff
		}
	}
	var codes []DispositionCode
	for _, a := range history {
		if a.Disposition != "" {
			codes = append(codes, a.Disposition)
		}
	}
	codes = append(codes, code)
	if v == StatusPartial {
		codes = append(codes, CodePartial)
	}
	return code, codes
}

// WrapUp is what an interviewer (or the dialer) chose for the case on a
// desk, with what Decide needs to know about it.
type WrapUp struct {
	Case     Case
	Campaign Campaign
	// Interview is the case's interview resumed, Status its stored status;
	// nil and "" when the case has none.
	Interview *Interview
	Status    Status
	Dialed    bool // the desk placed a call attempt

	Code        DispositionCode
	Appointment string // a respondent-local time (LocalLayout): book a call back instead
	Note        string
	Now         time.Time
	// NeverCall is the respondent's "never call me again": the case closes
	// as a refusal (Code "" is 2.11) and its number goes on the campaign's
	// do-not-call list (Outcome.DoNotCall).
	NeverCall bool
}

// Decide turns a wrap-up into what happens to the case:
//
//   - a case not dialed takes only what its record can show (RecordCodes) or
//     an appointment;
//   - an appointment keeps the case for a call back at that local time,
//     which must fall in the campaign's calling window;
//   - 1.1 needs a complete interview;
//   - a code that settles the number and not the contact (a fax, a number
//     not working: RetryNextNumber) goes on with the contact's next number
//     at once, while it has one and attempts are left;
//   - a final code, or any code once the attempts are used up, closes the
//     case with FinalDisposition over every attempt; an interview still in
//     progress ends then as the engine says (partial or break-off), and a
//     chosen 1.2 or 2.12 follows the engine's verdict;
//   - any other code schedules the next attempt after the campaign's (or
//     the catalog's) retry delay, keeping an interview in progress for the
//     call back.
func Decide(w WrapUp) (Outcome, error) {
	if w.NeverCall {
		return neverCall(w)
	}
	if !w.Dialed && w.Appointment == "" && !IsRecordCode(w.Code) {
		return Outcome{}, NotDialed(w.Code)
	}
	if len(w.Note) > 2000 {
		return Outcome{}, Errorf(EInvalid, "the note is longer than 2000 characters")
	}
	if w.Appointment != "" {
		return appointment(w)
	}
	d, ok := LookupDisposition(w.Code)
	if !ok {
		return Outcome{}, Errorf(EInvalid, "pick a disposition from the list (%q is not one)", Clip(string(w.Code), 16))
	}
	if d.RequiresNote && w.Note == "" {
		return Outcome{}, Errorf(EInvalid, "%s %s needs a note saying what happened", d.Code, d.Label)
	}
	inProgress := w.Status == StatusInProgress
	if d.Group == GroupI && w.Status != StatusComplete {
		return Outcome{}, Errorf(EInvalid, "1.1 Complete needs a complete interview; end it with another disposition")
	}
	if d.Group == GroupP && w.Status == "" {
		return Outcome{}, Errorf(EInvalid, "1.2 Partial needs an interview; this case has none")
	}
	var v Status
	if w.Status != "" {
		v = Verdict(w.Interview, w.Status)
	}
	code, codes := ClosingCodes(w.Case.History, v, w.Code)
	d, _ = LookupDisposition(code)
	o := Outcome{AttemptCode: code, Note: w.Note}
	if next, ok := w.Case.NumberAfter(code); ok && w.Dialed {
		// This number is settled, the contact is not: go on with the next.
		o.Status, o.NextAttemptAt, o.NextNumber = CaseOpen, w.Now, next.Phone
		return o, nil
	}
	if d.Final || w.Case.Attempts >= w.Case.MaxAttempts {
		o.Status = CaseClosed
		o.FinalCode = FinalDisposition(codes, true)
		if inProgress && w.Interview != nil {
			o.FinishInterview = w.Interview.Outcome()
			if cur := w.Interview.Current(); cur != nil {
				o.LastQuestion = cur.ID
			}
		}
		return o, nil
	}
	st, err := w.Campaign.DecodeSettings()
	if err != nil {
		return Outcome{}, err
	}
	delay := d.RetryAfter
	if sec, ok := st.RetrySeconds[d.Code]; ok {
		delay = time.Duration(sec) * time.Second
	}
	o.Status, o.NextAttemptAt = CaseOpen, w.Now.Add(delay)
	return o, nil
}

// appointment books the wrap-up's call back.
func appointment(w WrapUp) (Outcome, error) {
	if w.Status == StatusComplete {
		return Outcome{}, Errorf(EInvalid, "the interview is complete: close the case as 1.1 Complete instead of booking a call back")
	}
	loc, err := Location(w.Case.Contact.TZ)
	if err != nil {
		return Outcome{}, err
	}
	at, err := ParseLocal(w.Appointment, loc)
	if err != nil {
		return Outcome{}, err
	}
	if !at.After(w.Now) {
		return Outcome{}, Errorf(EInvalid, "the appointment %s is in the past for the respondent", w.Appointment)
	}
	if !w.Campaign.Windows.Contains(at, loc) {
		return Outcome{}, Errorf(EInvalid, "%s is outside the calling hours (%s, the respondent's time)", w.Appointment, w.Campaign.Windows)
	}
	return Outcome{Status: CaseAppointment, AppointmentAt: at, Note: w.Note}, nil
}

// CloseAs is a supervisor closing case c with final disposition d: iv and
// status are the case's interview resumed and its stored status (nil and ""
// without one). The code stands as chosen when the final-disposition rule
// the wrap-up applies agrees (ClosingCodes, FinalDisposition: a complete
// wins, then a partial, then a refusal or break-off, then other eligible
// outcomes over earlier calls); otherwise it is refused with the code the
// rule gives and why, never silently replaced. A case never dialed takes
// only RecordCodes, as a wrap-up does. An interview in progress ends as the
// engine says.
func CloseAs(c Case, iv *Interview, status Status, d Disposition, note string) (Outcome, error) {
	if d.RequiresNote && note == "" {
		return Outcome{}, Errorf(EInvalid, "%s %s needs a note saying what happened", d.Code, d.Label)
	}
	if c.Status == CaseClosed {
		return Outcome{}, Errorf(EConflict, "case %d is already closed", c.ID)
	}
	if c.Attempts == 0 && !IsRecordCode(d.Code) {
		return Outcome{}, Errorf(EInvalid, "case %d was never dialed: %s %s is what a call finds "+
			"(without a call only 4.10 Out of sample, 4.80 Quota filled or 4.90 Other not eligible can be set)", c.ID, d.Code, d.Label)
	}
	o := Outcome{Status: CaseClosed, FinalCode: d.Code, Note: note}
	var v Status // the interview's verdict; "" without one
	if status != "" {
		v = Verdict(iv, status)
		if d.Group == GroupI && v != StatusComplete {
			return Outcome{}, Errorf(EInvalid, "1.1 Complete needs a complete interview")
		}
		if status == StatusInProgress {
			o.FinishInterview = v
			if iv != nil {
				if cur := iv.Current(); cur != nil {
					o.LastQuestion = cur.ID
				}
			}
		}
	} else if d.Group == GroupI || d.Group == GroupP {
		return Outcome{}, Errorf(EInvalid, "%s needs an interview; this case has none", d.Code)
	}
	attempt, codes := ClosingCodes(c.History, v, d.Code)
	final := FinalDisposition(codes, false)
	if final == d.Code {
		return o, nil
	}
	var why string
	switch {
	case v == StatusComplete:
		why = "its interview is complete"
	case final == CodePartial && v == StatusPartial:
		why = "its interview has enough answers to count as a partial"
	case final == CodeBreakoff && attempt == CodeBreakoff && d.Code == CodePartial:
		why = "its interview has too few answers for a partial and ends as a break-off"
	default:
		why = "an earlier call on it recorded " + string(final) + ", which ranks higher in the final-disposition rule"
	}
	label := string(final)
	if f, ok := LookupDisposition(final); ok {
		label += " " + f.Label
	}
	return Outcome{}, Errorf(EInvalid, "case %d cannot close as %s %s: %s, so its final disposition is %s; set that instead",
		c.ID, d.Code, d.Label, why, label)
}

// Handover is how a reassigned case reaches its new interviewer.
type Handover int

// Handovers.
const (
	HandoverNow         Handover = iota // on her desk at once: the case may be called now
	HandoverAppointment                 // with its call back, when that is due
)

// PlanReassign is the rule for giving case c of campaign camp to another
// interviewer at now: a case with a call back booked for later goes with its
// appointment (to the new interviewer, when it is due), never on a desk
// before its time; one that may be called now goes on her desk; one outside
// the respondent's calling hours is refused, since she could only dial it
// against the rules.
func PlanReassign(c Case, camp Campaign, now time.Time) (Handover, error) {
	if c.Status == CaseClosed {
		return 0, Errorf(EConflict, "case %d is closed", c.ID)
	}
	for _, a := range c.Appointments {
		if a.Status == "pending" && a.At.After(now) {
			return HandoverAppointment, nil
		}
	}
	loc, err := Location(c.Contact.TZ)
	if err != nil {
		return 0, err
	}
	if !camp.Windows.Contains(now, loc) {
		return 0, Errorf(EInvalid, "case %d may not be called now: it is %s for the respondent, outside the calling hours (%s); "+
			"reassign it within them, or have a call back booked", c.ID, now.In(loc).Format("Mon 15:04 MST"), camp.Windows)
	}
	return HandoverNow, nil
}

// FittingCodes are the dispositions that fit what happened on a case at
// wrap-up, the one to suggest first: without a call, what the record can
// show; a complete interview, 1.1; an interview that stopped, its verdict
// (1.2 or 2.12) and the refusals; a call that reached nobody, what the line
// did. verdict is how the call's interview ends ("" when the call reached
// no respondent). Any other code of the catalog stays allowed.
func FittingCodes(dialed bool, verdict Status) []DispositionCode {
	switch {
	case !dialed:
		return RecordCodes()
	case verdict == StatusComplete:
		return []DispositionCode{CodeComplete}
	case verdict == StatusPartial:
		return []DispositionCode{CodePartial, "2.11", "2.112", "2.12"}
	case verdict != "":
		return []DispositionCode{CodeBreakoff, "2.11", "2.112", "2.111"}
	}
	return []DispositionCode{CodeNoAnswer, CodeBusy, CodeAnsweringMachine, "2.221", CodeNonWorking, "3.16"}
}

// neverCall closes the case as a refusal and lists its number: a
// respondent who asks never to be called again has refused.
func neverCall(w WrapUp) (Outcome, error) {
	if w.Appointment != "" {
		return Outcome{}, Errorf(EInvalid, "never call again and a call back exclude each other: choose one")
	}
	if w.Code == "" {
		w.Code = CodeRefusal
	}
	if w.Code != CodeRefusal && w.Code != "2.111" && w.Code != "2.112" {
		return Outcome{}, Errorf(EInvalid, "never call again closes the case as a refusal (2.11, 2.111 or 2.112), not %s", Clip(string(w.Code), 16))
	}
	w.NeverCall = false
	o, err := Decide(w)
	if err != nil {
		return Outcome{}, err
	}
	o.DoNotCall = true
	return o, nil
}
