package dev.iommufd.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One command of a scenario file, tokenized: {@code VERB [WORD...] [name=value...] [-> $var]}. A value is a bare
 * word or a double-quoted string ({@code \"}, {@code \\}, {@code \n}, {@code \t} escapes). {@code #} outside a
 * string starts a comment.
 *
 * @param number the 1-based line number
 * @param verb the first word
 * @param words the bare words after the verb, in order
 * @param fields {@code name=value} pairs, in order
 * @param bind the variable after {@code ->} (without {@code $}), or null
 */
record ScenarioLine(int number, String verb, List<String> words, Map<String, String> fields, String bind) {

    /** Tokenizes one line; null for a blank or comment line. */
    static ScenarioLine parse(int number, String text) throws ScenarioException {
        List<String> tokens = new ArrayList<>();
        List<Boolean> quoted = new ArrayList<>();
        List<Integer> quoteStarts = new ArrayList<>();
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (c == '#') {
                break;
            }
            StringBuilder b = new StringBuilder();
            boolean q = false;
            int quoteStart = -1;
            while (i < n && !Character.isWhitespace(text.charAt(i))) {
                char d = text.charAt(i);
                if (d == '"') {
                    if (!q) {
                        quoteStart = b.length();
                    }
                    q = true;
                    i++;
                    boolean closed = false;
                    while (i < n) {
                        char e = text.charAt(i++);
                        if (e == '"') {
                            closed = true;
                            break;
                        }
                        if (e == '\\') {
                            if (i >= n) {
                                break;
                            }
                            char x = text.charAt(i++);
                            switch (x) {
                                case 'n' -> b.append('\n');
                                case 't' -> b.append('\t');
                                case '"', '\\' -> b.append(x);
                                default -> throw new ScenarioException(number, "unknown escape '\\" + x + "' in a string");
                            }
                        } else {
                            b.append(e);
                        }
                    }
                    if (!closed) {
                        throw new ScenarioException(number, "unterminated string (a '\"' is missing)");
                    }
                } else {
                    b.append(d);
                    i++;
                }
            }
            tokens.add(b.toString());
            quoted.add(q);
            quoteStarts.add(quoteStart);
        }
        if (tokens.isEmpty()) {
            return null;
        }
        if (quoted.get(0)) {
            throw new ScenarioException(number, "a line starts with a command, not a string");
        }
        String verb = tokens.get(0);
        List<String> words = new ArrayList<>();
        Map<String, String> fields = new LinkedHashMap<>();
        String bind = null;
        for (int t = 1; t < tokens.size(); t++) {
            String tok = tokens.get(t);
            if (!quoted.get(t) && tok.equals("->")) {
                if (t != tokens.size() - 2 || !tokens.get(t + 1).startsWith("$") || tokens.get(t + 1).length() < 2) {
                    throw new ScenarioException(number, "'->' must be followed by one variable ($name) at the end of the line");
                }
                bind = tokens.get(t + 1).substring(1);
                if (!bind.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                    throw new ScenarioException(number, "bad variable name '$" + bind + "'");
                }
                break;
            }
            // name=value, or name="quoted value" (an '=' before the first quote)
            int eq = tok.indexOf('=');
            if (quoted.get(t) && (eq < 0 || eq >= quoteStarts.get(t))) {
                eq = -1;
            }
            if (eq > 0 && !tokenStartsWithName(tok, eq)) {
                eq = -1;
            }
            if (eq > 0) {
                String name = tok.substring(0, eq);
                if (fields.put(name, tok.substring(eq + 1)) != null) {
                    throw new ScenarioException(number, "field '" + name + "' given twice");
                }
            } else {
                words.add(tok);
            }
        }
        return new ScenarioLine(number, verb, Collections.unmodifiableList(words), Collections.unmodifiableMap(fields), bind);
    }

    private static boolean tokenStartsWithName(String tok, int eq) {
        for (int k = 0; k < eq; k++) {
            char c = tok.charAt(k);
            if (!(Character.isLetterOrDigit(c) || c == '_' || c == '-')) {
                return false;
            }
        }
        return true;
    }
}
