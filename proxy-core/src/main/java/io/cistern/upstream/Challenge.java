package io.cistern.upstream;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One {@code WWW-Authenticate} challenge: a scheme ({@code bearer}, {@code basic}) and its
 * parameters ({@code realm}, {@code service}, {@code scope}). Parameter values may be quoted and
 * quoted values may hold commas ({@code scope="repository:a:pull,push"}).
 */
public record Challenge(String scheme, Map<String, String> parameters) {

  public Challenge {
    scheme = scheme.toLowerCase(Locale.ROOT);
    parameters = Map.copyOf(parameters);
  }

  public boolean isBearer() {
    return scheme.equals("bearer");
  }

  public boolean isBasic() {
    return scheme.equals("basic");
  }

  public Optional<String> parameter(String name) {
    return Optional.ofNullable(parameters.get(name));
  }

  /** Parses every challenge in the header values; unknown or malformed parts are skipped. */
  public static List<Challenge> parseAll(List<String> headerValues) {
    List<Challenge> challenges = new ArrayList<>();
    for (String header : headerValues) {
      new Parser(header).parseInto(challenges);
    }
    return challenges;
  }

  /** The first Bearer challenge, else the first Basic one. */
  public static Optional<Challenge> preferred(List<String> headerValues) {
    List<Challenge> all = parseAll(headerValues);
    return all.stream().filter(Challenge::isBearer).findFirst()
        .or(() -> all.stream().filter(Challenge::isBasic).findFirst());
  }

  /** A small recursive-descent reader over RFC 7235's challenge grammar. */
  private static final class Parser {
    private final String text;
    private int position;

    Parser(String text) {
      this.text = text;
    }

    void parseInto(List<Challenge> out) {
      while (true) {
        skip(" \t,");
        String scheme = token();
        if (scheme.isEmpty()) {
          return;
        }
        Map<String, String> parameters = new LinkedHashMap<>();
        while (true) {
          skip(" \t");
          int mark = position;
          String name = token();
          skip(" \t");
          if (name.isEmpty() || !consume('=')) {
            // Not a parameter: the start of the next challenge (or the end).
            position = mark;
            break;
          }
          skip(" \t");
          String value = peek() == '"' ? quoted() : token();
          parameters.put(name.toLowerCase(Locale.ROOT), value);
          skip(" \t");
          if (!consume(',')) {
            break;
          }
        }
        out.add(new Challenge(scheme, parameters));
      }
    }

    private String token() {
      int start = position;
      while (position < text.length()) {
        char c = text.charAt(position);
        if (c == ' ' || c == '\t' || c == ',' || c == '=' || c == '"') {
          break;
        }
        position++;
      }
      return text.substring(start, position);
    }

    private String quoted() {
      StringBuilder value = new StringBuilder();
      position++; // opening quote
      while (position < text.length()) {
        char c = text.charAt(position++);
        if (c == '\\' && position < text.length()) {
          value.append(text.charAt(position++));
        } else if (c == '"') {
          return value.toString();
        } else {
          value.append(c);
        }
      }
      return value.toString();
    }

    private char peek() {
      return position < text.length() ? text.charAt(position) : 0;
    }

    private boolean consume(char expected) {
      if (peek() == expected) {
        position++;
        return true;
      }
      return false;
    }

    private void skip(String characters) {
      while (position < text.length() && characters.indexOf(text.charAt(position)) >= 0) {
        position++;
      }
    }
  }
}
