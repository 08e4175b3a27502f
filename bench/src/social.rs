//! Social network notifications for the tab evaluation: the corpus has
//! none, so these are built the way the big networks' notification mail is
//! publicly documented to look (their sender domains, List-Unsubscribe,
//! their own X- headers, the usual notice texts), varied by person and
//! event. Written here, not copied from anyone's mail.

struct Network {
    name: &'static str,
    from: &'static str,
    headers: &'static str,
    events: &'static [(&'static str, &'static str)],
}

const NETWORKS: &[Network] = &[
    Network {
        name: "Facebook",
        from: "notification@facebookmail.com",
        headers: "X-Facebook-Notify: comment; mailid=m1\r\nX-Mailer: ZuckMail [version 1.00]\r\n",
        events: &[
            (
                "{who} commented on your post",
                "{who} commented on your post: \"Great photo!\"",
            ),
            (
                "{who} tagged you in a photo",
                "{who} tagged you in a photo. See the photo and comment.",
            ),
            (
                "You have 3 new friend suggestions",
                "People you may know: {who} and 2 others.",
            ),
            (
                "{who}'s birthday is today",
                "Help {who} have a great birthday by writing on their timeline.",
            ),
        ],
    },
    Network {
        name: "LinkedIn",
        from: "messages-noreply@linkedin.com",
        headers: "X-LinkedIn-Class: INVITE-GUEST\r\nX-LinkedIn-Template: invite_guest\r\n",
        events: &[
            (
                "{who} wants to connect",
                "I'd like to add you to my professional network. Accept {who}'s invitation.",
            ),
            (
                "You appeared in 12 searches this week",
                "See who's looking at your profile. {who} and others viewed it.",
            ),
            (
                "{who} endorsed you for Project Management",
                "Your network is noticing your skills.",
            ),
            (
                "Congratulate {who} on the work anniversary",
                "Say congrats to {who} on 5 years at the company.",
            ),
        ],
    },
    Network {
        name: "X",
        from: "notify@x.com",
        headers: "X-Twitteremailtype: notification\r\nX-Twitter-CID: ntf\r\n",
        events: &[
            ("{who} followed you", "{who} (@{handle}) followed you. Follow back?"),
            ("{who} liked your post", "{who} liked your post about the conference."),
            ("{who} mentioned you", "@{handle} mentioned you in a reply."),
        ],
    },
    Network {
        name: "Instagram",
        from: "no-reply@mail.instagram.com",
        headers: "",
        events: &[
            (
                "{who} started following you",
                "{who} (@{handle}) started following you on Instagram.",
            ),
            (
                "{who} shared a new post",
                "See {who}'s latest photo and more updates from people you follow.",
            ),
            ("{who} commented on your photo", "{who} commented: \"Love this!\""),
        ],
    },
    Network {
        name: "Reddit",
        from: "noreply@redditmail.com",
        headers: "X-Reddit-Email-Type: comment_reply\r\n",
        events: &[
            (
                "u/{handle} replied to your comment in r/rust",
                "u/{handle} replied: \"Thanks, that fixed it.\"",
            ),
            (
                "Trending in r/programming",
                "Top posts from communities you follow this week.",
            ),
            (
                "u/{handle} sent you a chat request",
                "Open Reddit to answer u/{handle}.",
            ),
        ],
    },
    Network {
        name: "Discord",
        from: "notifications@discord.com",
        headers: "",
        events: &[
            (
                "{who} mentioned you in #general",
                "You have unread messages in Rust Community: {who} mentioned you.",
            ),
            (
                "New friend request from {handle}",
                "{handle} sent you a friend request on Discord.",
            ),
        ],
    },
    Network {
        name: "Pinterest",
        from: "recommendations@explore.pinterest.com",
        headers: "X-Pinterest-Template: digest\r\n",
        events: &[
            ("{who} saved your Pin", "{who} saved your Pin to the board Recipes."),
            (
                "New ideas for your board",
                "Pins picked for you, based on what {who} and others saved.",
            ),
        ],
    },
    Network {
        name: "Meetup",
        from: "info@meetup.com",
        headers: "X-Meetup-Notification-Type: event_announce\r\n",
        events: &[
            (
                "New event: Rust meetup on Thursday",
                "{who} scheduled a new event in your group. RSVP now.",
            ),
            ("{who} commented on the event", "{who}: \"See you all there!\""),
        ],
    },
    Network {
        name: "Nextdoor",
        from: "no-reply@rs.email.nextdoor.com",
        headers: "",
        events: &[
            (
                "{who} posted in your neighborhood",
                "{who}: \"Has anyone seen a grey cat near the park?\"",
            ),
            (
                "Top posts near you",
                "What your neighbors are talking about: {who} and 12 others posted.",
            ),
        ],
    },
];

const PEOPLE: &[(&str, &str)] = &[
    ("Ana Souza", "anasouza"),
    ("Ben Okafor", "bokafor"),
    ("Chen Wei", "chenwei"),
    ("Dana Levi", "danalevi"),
    ("Emil Novak", "enovak"),
    ("Fatima Zahra", "fzahra"),
];

/// `count` Social examples, cycling networks, events and people.
pub fn notifications(count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    let mut n = 0;
    while out.len() < count {
        let network = &NETWORKS[n % NETWORKS.len()];
        let (subject, body) = network.events[(n / NETWORKS.len()) % network.events.len()];
        let (who, handle) = PEOPLE[n % PEOPLE.len()];
        let fill = |text: &str| text.replace("{who}", who).replace("{handle}", handle);
        let domain = network.from.rsplit('@').next().unwrap_or("social.test");
        let message = format!(
            "From: {name} <{from}>\r\nTo: user@example.com\r\nSubject: {subject}\r\n\
Date: Wed, 25 Nov 2026 {hour:02}:{minute:02}:00 +0000\r\nMessage-ID: <{n}.{handle}@{domain}>\r\n\
List-Unsubscribe: <https://{domain}/unsubscribe?u={n}>\r\n{headers}MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\r\nView on {name}: https://{domain}/n/{n}\r\n\
You received this because of your notification settings. Unsubscribe: https://{domain}/unsubscribe\r\n",
            name = network.name,
            from = network.from,
            subject = fill(subject),
            hour = n % 24,
            minute = (n * 7) % 60,
            headers = network.headers,
            body = fill(body),
        );
        out.push(message.into_bytes());
        n += 1;
    }
    out
}
