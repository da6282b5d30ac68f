// Package prompts is the prompt catalog: (questionnaire, prompt id,
// language) → audio. Recordings are uploaded as WAV files of any common
// format, converted once to 8 kHz mono 16-bit (resampled through a proper
// anti-aliasing filter) and stored; a prompt with no recording is spoken by
// espeak-ng and cached. The telephony adapters take samples (PCM) or a file
// (File); Check tells which prompts of a questionnaire are recorded,
// synthesized or missing. It imports no telephony.
package prompts
