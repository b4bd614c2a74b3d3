// Package turndetect judges from the words of a user's turn so far whether
// they read as a finished request or as a sentence that is going on.
//
// Classify is the built-in, transparent rule set: a trailing conjunction,
// preposition, article, auxiliary, filler ("um", "you know"), arithmetic
// operator, a dictated number or e-mail address that is not finished, and a
// few more endings read as Incomplete; any other non-empty text reads as
// Complete; no words are Unknown. The rules look at the last words only and
// know English; text in other languages reads as Complete unless it ends in
// one of these words.
//
// The session (server/internal/session) turns a verdict into how long the
// silence after speech must last before the turn ends. Nothing here keeps
// state or starts goroutines; Classify is safe for concurrent use.
package turndetect
