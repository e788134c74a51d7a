/**
 * Identities compared as identities, not as free text. Two approver names that a person reads as the same name
 * ("bob", "Bob", "bob" + a zero-width space, "ｂｏｂ" in full-width letters) must count as one approver, or one person
 * meets a quorum of two alone.
 *
 * The key is: Unicode NFKC (compatibility forms folded: full-width, ligatures, superscripts), with every
 * default-ignorable code point (zero-width spaces and joiners, soft hyphens, variation selectors, bidi controls),
 * format character and control character removed, case folded (upper then lower case, so "ß" and "SS" meet),
 * NFKC again, and surrounding white space trimmed. Confusable letters of different scripts (Latin "o" and Cyrillic
 * "о") stay different: no normalization form unifies them; approver identities should come from authentication.
 */

const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}]/gu;

/** The comparison key of an identity ("" when nothing visible is left). */
export function identityKey(s: string): string {
  const folded = s.normalize("NFKC").replace(INVISIBLE, "").toUpperCase().toLowerCase().normalize("NFKC").replace(INVISIBLE, "");
  return folded.trim().replace(/\s+/gu, " ");
}

/** Whether two identities are the same identity. */
export function sameIdentity(a: string, b: string): boolean {
  return identityKey(a) === identityKey(b);
}
