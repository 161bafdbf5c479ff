"""``streamcompat setup proxies``, ``firefox`` and ``webkit``: what is missing from apt as
root, with no service started by the install, or a notice naming the package otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamcompat.harness.front import setup
from streamcompat.harness.hosts.proxies import PROXIES


def _nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in PROXIES.values():
        monkeypatch.setattr(type(kind), "binary", lambda self: None)


def test_without_root_a_missing_proxy_is_named_with_its_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _nothing_installed(monkeypatch)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(setup, "_apt", lambda *a: pytest.fail("apt must not run as a user"))
    assert setup.setup_proxies() == 0
    out = capsys.readouterr().out
    for kind in PROXIES.values():
        assert (
            f"{kind.name}: not installed; its network is skipped (apt-get install {kind.package})"
            in out
        )


def test_as_root_apt_installs_each_missing_package_with_services_kept_from_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _nothing_installed(monkeypatch)
    guard = tmp_path / "policy-rc.d"
    monkeypatch.setattr(setup, "POLICY_RC_D", guard)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    calls: list[tuple[list[str], str]] = []

    def apt(arguments: list[str], env: dict[str, str]) -> bool:
        calls.append((arguments, guard.read_text() if guard.exists() else ""))
        assert env["DEBIAN_FRONTEND"] == "noninteractive"
        return arguments[0] != "install" or arguments[-1] != "caddy"  # caddy: not packaged

    monkeypatch.setattr(setup, "_apt", apt)
    assert setup.setup_proxies() == 0
    assert calls[0][0] == ["update", "-qq"]
    installed = [a[-1] for a, _ in calls[1:]]
    assert installed == [k.package for k in PROXIES.values()]
    assert all("exit 101" in policy for _, policy in calls)  # no service started meanwhile
    assert not guard.exists()  # and the guard is gone after
    assert "caddy: caddy could not be installed" in capsys.readouterr().out


def test_an_existing_policy_is_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _nothing_installed(monkeypatch)
    guard = tmp_path / "policy-rc.d"
    guard.write_text("#!/bin/sh\nexit 0\n")
    monkeypatch.setattr(setup, "POLICY_RC_D", guard)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    monkeypatch.setattr(setup, "_apt", lambda arguments, env: True)
    setup.setup_proxies()
    assert guard.read_text() == "#!/bin/sh\nexit 0\n"


def test_an_unknown_part_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert setup.setup_command(["proxies", "bogus"]) == 2
    known = "known: npm, chromium, firefox, webkit, proxies"
    assert f"unknown part(s): bogus; {known}" in capsys.readouterr().err


def test_setup_firefox_installs_firefox_esr_and_certutil_as_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed: set[str] = set()
    monkeypatch.setattr(setup, "POLICY_RC_D", tmp_path / "policy-rc.d")
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    programs = {"firefox-esr": "firefox", "libnss3-tools": "certutil"}
    monkeypatch.setattr(
        setup, "which", lambda name: f"/usr/bin/{name}" if name in installed else None
    )

    def apt(arguments: list[str], env: dict[str, str]) -> bool:
        if arguments[0] == "install":
            installed.add(programs[arguments[-1]])
        return True

    monkeypatch.setattr(setup, "_apt", apt)
    assert setup.setup_command(["firefox"]) == 0
    assert installed == {"firefox", "certutil"}
    out = capsys.readouterr().out
    assert "firefox: firefox-esr installed" in out and "certutil: libnss3-tools installed" in out


def test_setup_firefox_as_a_user_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(setup, "which", lambda name: None)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(setup, "_apt", lambda *a: pytest.fail("apt must not run as a user"))
    assert setup.setup_firefox() == 0
    out = capsys.readouterr().out
    assert (
        "firefox: not installed; the Firefox columns are skipped (apt-get install firefox-esr)"
        in out
    )


def test_setup_webkit_installs_its_webdriver_and_xvfb_as_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed: set[str] = set()
    monkeypatch.setattr(setup, "POLICY_RC_D", tmp_path / "policy-rc.d")
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    programs = {"webkit2gtk-driver": "WebKitWebDriver", "xvfb": "Xvfb"}
    monkeypatch.setattr(
        setup, "which", lambda name: f"/usr/bin/{name}" if name in installed else None
    )

    def apt(arguments: list[str], env: dict[str, str]) -> bool:
        if arguments[0] == "install":
            installed.add(programs[arguments[-1]])
        return True

    monkeypatch.setattr(setup, "_apt", apt)
    assert setup.setup_command(["webkit"]) == 0
    assert installed == {"WebKitWebDriver", "Xvfb"}
    out = capsys.readouterr().out
    assert "WebKitWebDriver: webkit2gtk-driver installed" in out and "Xvfb: xvfb installed" in out


def test_setup_webkit_as_a_user_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(setup, "which", lambda name: None)
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(setup, "_apt", lambda *a: pytest.fail("apt must not run as a user"))
    assert setup.setup_webkit() == 0
    out = capsys.readouterr().out
    assert (
        "WebKitWebDriver: not installed; the WebKit columns are skipped "
        "(apt-get install webkit2gtk-driver)" in out
    )
