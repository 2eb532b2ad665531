package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChallengeTest {

  @Test
  void parsesDockerHubsBearerChallenge() {
    Challenge challenge = Challenge.preferred(List.of(
        "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull\""))
        .orElseThrow();
    assertTrue(challenge.isBearer());
    assertEquals("https://auth.docker.io/token", challenge.parameter("realm").orElseThrow());
    assertEquals("registry.docker.io", challenge.parameter("service").orElseThrow());
    assertEquals("repository:library/alpine:pull", challenge.parameter("scope").orElseThrow());
  }

  @Test
  void quotedValuesMayHoldCommasAndEscapes() {
    Challenge challenge = Challenge.preferred(List.of(
        "Bearer realm=\"https://auth.example/token\", scope=\"repository:a:pull,push\", error=\"say \\\"hi\\\"\""))
        .orElseThrow();
    assertEquals("repository:a:pull,push", challenge.parameter("scope").orElseThrow());
    assertEquals("say \"hi\"", challenge.parameter("error").orElseThrow());
  }

  @Test
  void severalChallengesInOneHeaderPreferBearer() {
    List<Challenge> all = Challenge.parseAll(List.of("Basic realm=\"Registry Realm\", Bearer realm=\"https://t/token\",service=registry"));
    assertEquals(2, all.size());
    assertTrue(all.get(0).isBasic());
    assertEquals("registry", all.get(1).parameter("service").orElseThrow());
    assertTrue(Challenge.preferred(List.of("Basic realm=x, Bearer realm=y")).orElseThrow().isBearer());
  }

  @Test
  void unquotedAndOddlySpacedParametersParse() {
    Challenge challenge = Challenge.parseAll(List.of("bearer  realm = https://t/token ,service=s")).get(0);
    assertTrue(challenge.isBearer());
    assertEquals("https://t/token", challenge.parameter("realm").orElseThrow());
    assertEquals("s", challenge.parameter("service").orElseThrow());
  }

  @Test
  void garbageYieldsNoUsableChallenge() {
    assertTrue(Challenge.preferred(List.of("", ",,,", "=\"x\"")).isEmpty());
  }

  @Test
  void challengesSpreadOverSeveralHeaderValuesAreAllRead() {
    List<Challenge> all = Challenge.parseAll(List.of(
        "Basic realm=\"corp, internal\"",
        "Bearer realm=\"https://auth.example/token?a=1,b=2\",service=\"reg, eu\",scope=\"repository:a/b:pull repository:c/d:pull,push\""));
    assertEquals(2, all.size());
    assertEquals("corp, internal", all.get(0).parameter("realm").orElseThrow());
    Challenge bearer = all.get(1);
    assertEquals("https://auth.example/token?a=1,b=2", bearer.parameter("realm").orElseThrow());
    assertEquals("reg, eu", bearer.parameter("service").orElseThrow());
    assertEquals("repository:a/b:pull repository:c/d:pull,push", bearer.parameter("scope").orElseThrow());
  }

  @Test
  void parameterNamesAreCaseInsensitiveAndASchemeWithoutParametersStillCounts() {
    List<Challenge> all = Challenge.parseAll(List.of("Negotiate, BEARER Realm=\"https://t/token\", Service=s"));
    assertEquals(2, all.size());
    assertEquals("negotiate", all.get(0).scheme());
    assertEquals("https://t/token", all.get(1).parameter("realm").orElseThrow());
    assertEquals("s", all.get(1).parameter("service").orElseThrow());
  }
}
