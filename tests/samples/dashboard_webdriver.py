# Drives headless Chromium through chromedriver (the W3C WebDriver protocol,
# with the standard library only): loads the node's dashboard, waits for the
# supervision tree, clicks "kill" on the chat room and waits for its
# restart to show; saves a screenshot.
#   python3 dashboard_webdriver.py DASHBOARD_URL SCREENSHOT.png
import base64, json, socket, subprocess, sys, time, urllib.error, urllib.request

url, shot = sys.argv[1], sys.argv[2]
with socket.socket() as s:  # a free port for chromedriver, on loopback
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["value"]


def wait_for(sid, css, within=15):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            found = call("POST", f"/session/{sid}/element", {"using": "css selector", "value": css})
            return list(found.values())[0]
        except urllib.error.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"not on the page within {within} s: {css}")


try:
    for _ in range(100):
        try:
            call("GET", "/status")
            break
        except Exception:
            time.sleep(0.1)
    options = {"binary": "/usr/bin/chromium",
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1100,820"]}
    sid = call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})["sessionId"]
    try:
        call("POST", f"/session/{sid}/url", {"url": url})
        room = 'div.node[data-path="root/chat-room"]'
        wait_for(sid, room)
        wait_for(sid, 'div.node[data-path="root/http/listener"]')
        print("tree shown")
        # The tree is drawn again when it changes: a button found just
        # before may be gone (stale); find it again.
        for attempt in range(50):
            button = wait_for(sid, room + ' button[title="kill root/chat-room"]')
            try:
                call("POST", f"/session/{sid}/element/{button}/click", {})
                break
            except urllib.error.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the kill button could not be clicked")
        wait_for(sid, room + " span.restarts")
        print("restart shown")
        wait_for(sid, "#c-conns polyline")  # the charts have their first points
        with open(shot, "wb") as f:
            f.write(base64.b64decode(call("GET", f"/session/{sid}/screenshot")))
    finally:
        call("DELETE", f"/session/{sid}")
finally:
    driver.terminate()
    driver.wait(10)
