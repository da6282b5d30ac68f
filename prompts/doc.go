// Package prompts is the prompt catalog: (questionnaire, prompt id,
// language) → audio, converted once to 8 kHz mono, with speech synthesis for
// prompts that have no recording and a coverage check. It imports no
// telephony. (Filled by the IVR issue.)
package prompts
