package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class AcceptHeaderTest {

  @Test
  void noHeaderAcceptsAnything() {
    assertTrue(AcceptHeader.parse(List.of()).accepts(MediaTypes.OCI_INDEX));
  }

  @Test
  void listsAcrossSeveralHeadersWithParametersAreUnderstood() {
    AcceptHeader accept = AcceptHeader.parse(List.of(
        MediaTypes.DOCKER_MANIFEST + "; q=0.9, " + MediaTypes.OCI_MANIFEST,
        MediaTypes.DOCKER_MANIFEST_LIST));
    assertTrue(accept.accepts(MediaTypes.DOCKER_MANIFEST));
    assertTrue(accept.accepts(MediaTypes.OCI_MANIFEST));
    assertTrue(accept.accepts(MediaTypes.DOCKER_MANIFEST_LIST));
    assertFalse(accept.accepts(MediaTypes.OCI_INDEX));
  }

  @Test
  void qualityZeroMeansNot() {
    AcceptHeader accept = AcceptHeader.parse(List.of(MediaTypes.OCI_INDEX + ";q=0, " + MediaTypes.OCI_MANIFEST));
    assertFalse(accept.accepts(MediaTypes.OCI_INDEX));
    assertTrue(accept.accepts(MediaTypes.OCI_MANIFEST));
  }

  @Test
  void wildcardsAcceptAnything() {
    assertTrue(AcceptHeader.parse(List.of(MediaTypes.OCI_MANIFEST + ", */*")).accepts(MediaTypes.OCI_INDEX));
  }
}
